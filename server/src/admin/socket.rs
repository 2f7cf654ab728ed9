//! The channel through which `mcp-chat admin` asks a running server to change its store.
//!
//! A server on a SQLite store owns the file and answers from its mirror of it (see
//! `engine/store/sqlite`): a write by another process would be invisible to it, then overwritten.
//! So a change the operator asks for while the server runs is made by the server itself: it
//! listens on a Unix socket beside the file, `FILE.admin` (mode 0600: only its user may ask),
//! for one JSON request per connection, on one line, and answers on one line.
//!
//! The socket is created at startup, once the server holds the file's lock, and removed at
//! shutdown. One left behind by a crash is replaced at the next start: holding the lock, the
//! server knows no other one uses it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::engine::Engine;
use crate::engine::store::sqlite::sibling;

/// What the operator asks of the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// [`Engine::delete_room`].
    DeleteRoom { room_id: String },
}

/// The server's answer: `ok`, or the error's stable code (as tools report it) and its account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Answer {
    fn done() -> Answer {
        Answer {
            ok: true,
            code: None,
            error: None,
        }
    }

    fn failed(code: &str, error: impl Into<String>) -> Answer {
        Answer {
            ok: false,
            code: Some(code.to_owned()),
            error: Some(error.into()),
        }
    }
}

/// Why a request got no answer.
#[derive(Debug)]
pub enum AskError {
    /// No server listens there (no socket file, or one left by a server that is gone).
    NoServer(String),
    /// A server may be there, but the exchange failed.
    Failed(String),
}

/// The socket of the store at `db`: `FILE.admin`.
pub fn path_for(db: &Path) -> PathBuf {
    sibling(db, ".admin")
}

/// Longest request read: a room name is at most a few hundred bytes.
const MAX_REQUEST_BYTES: u64 = 16 * 1024;
/// How long a connection may take to send its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long `mcp-chat admin` waits for the server to connect, then to answer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// The listening socket; removed, and its task stopped, when dropped.
pub struct Listening {
    path: PathBuf,
    task: tokio::task::JoinHandle<()>,
}

impl Listening {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Listening {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Listens on the admin socket of the store at `db` (whose lock this process holds) and serves
/// requests with `engine` until `stop`.
#[cfg(unix)]
pub fn listen(
    db: &Path,
    engine: Arc<Engine>,
    stop: CancellationToken,
) -> std::io::Result<Listening> {
    use std::os::unix::fs::PermissionsExt;

    let path = path_for(db);
    // Bound under another name, made private, then renamed into place: nobody can connect
    // before the mode is 0600, and a stale socket from a crash is replaced in one step.
    let staging = sibling(db, ".admin.new");
    let _ = std::fs::remove_file(&staging);
    let listener = tokio::net::UnixListener::bind(&staging)?;
    let placed = std::fs::set_permissions(&staging, std::fs::Permissions::from_mode(0o600))
        .and_then(|()| std::fs::rename(&staging, &path));
    if let Err(e) = placed {
        let _ = std::fs::remove_file(&staging);
        return Err(e);
    }
    let task = tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                _ = stop.cancelled() => return,
                accepted = listener.accept() => accepted,
            };
            match accepted {
                Ok((stream, _)) => {
                    let engine = engine.clone();
                    tokio::spawn(async move {
                        if let Err(e) = serve(stream, &engine).await {
                            tracing::warn!(error = %e, "admin socket: a request failed");
                        }
                    });
                }
                Err(e) => {
                    // Out of file descriptors, say: try again shortly rather than spin.
                    tracing::warn!(error = %e, "admin socket: accept failed");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    });
    Ok(Listening { path, task })
}

#[cfg(not(unix))]
pub fn listen(
    _db: &Path,
    _engine: Arc<Engine>,
    _stop: CancellationToken,
) -> std::io::Result<Listening> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "the admin socket needs Unix domain sockets",
    ))
}

/// One connection: one request, one answer.
#[cfg(unix)]
async fn serve(stream: tokio::net::UnixStream, engine: &Engine) -> std::io::Result<()> {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    let mut limited = BufReader::new(read.take(MAX_REQUEST_BYTES));
    let answer = match tokio::time::timeout(REQUEST_TIMEOUT, limited.read_line(&mut line)).await {
        Err(_) => Answer::failed("invalid_request", "no request line within 10 s"),
        Ok(Err(e)) => return Err(e),
        Ok(Ok(_)) => match serde_json::from_str::<Request>(line.trim()) {
            Err(e) => Answer::failed("invalid_request", format!("not a request: {e}")),
            Ok(request) => answer(request, engine).await,
        },
    };
    let mut text = serde_json::to_string(&answer).map_err(std::io::Error::other)?;
    text.push('\n');
    write.write_all(text.as_bytes()).await?;
    write.shutdown().await
}

async fn answer(request: Request, engine: &Engine) -> Answer {
    match request {
        Request::DeleteRoom { room_id } => {
            tracing::info!(room_id = %room_id, "admin socket: delete requested");
            match engine.delete_room(&room_id).await {
                Ok(()) => Answer::done(),
                Err(e) => Answer::failed(e.code(), e.to_string()),
            }
        }
    }
}

/// Sends `request` to the server listening on `socket` and returns its answer.
#[cfg(unix)]
pub async fn ask(socket: &Path, request: &Request) -> Result<Answer, AskError> {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    let shown = socket.display();
    let stream = match tokio::time::timeout(
        CONNECT_TIMEOUT,
        tokio::net::UnixStream::connect(socket),
    )
    .await
    {
        Err(_) => {
            return Err(AskError::Failed(format!(
                "{shown} did not accept a connection within {} s",
                CONNECT_TIMEOUT.as_secs()
            )));
        }
        Ok(Err(e))
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
            ) =>
        {
            return Err(AskError::NoServer(format!("{shown}: {e}")));
        }
        Ok(Err(e)) => return Err(AskError::Failed(format!("cannot connect to {shown}: {e}"))),
        Ok(Ok(stream)) => stream,
    };
    let exchange = async {
        let (read, mut write) = stream.into_split();
        let mut line = serde_json::to_string(request).map_err(std::io::Error::other)?;
        line.push('\n');
        write.write_all(line.as_bytes()).await?;
        write.shutdown().await?;
        let mut answer = String::new();
        BufReader::new(read).read_line(&mut answer).await?;
        Ok::<_, std::io::Error>(answer)
    };
    let answer = match tokio::time::timeout(ANSWER_TIMEOUT, exchange).await {
        Err(_) => {
            return Err(AskError::Failed(format!(
                "the server on {shown} did not answer within {} s",
                ANSWER_TIMEOUT.as_secs()
            )));
        }
        Ok(Err(e)) => return Err(AskError::Failed(format!("talking to {shown}: {e}"))),
        Ok(Ok(answer)) => answer,
    };
    serde_json::from_str(answer.trim()).map_err(|e| {
        AskError::Failed(format!(
            "the server on {shown} answered something else than an answer ({e}): {:?}",
            answer.trim()
        ))
    })
}

#[cfg(not(unix))]
pub async fn ask(socket: &Path, _request: &Request) -> Result<Answer, AskError> {
    Err(AskError::NoServer(format!(
        "{}: no Unix domain sockets here",
        socket.display()
    )))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::engine::Limits;
    use crate::engine::store::memory::MemoryStore;

    fn temp_db() -> PathBuf {
        std::env::temp_dir().join(format!(
            "mcp-chat-sock-{}.db",
            crate::engine::ids::user_id()
        ))
    }

    #[tokio::test]
    async fn a_request_is_answered_and_the_socket_goes_at_drop() {
        let db = temp_db();
        // A stale socket file from a crash does not stop a start.
        std::fs::write(path_for(&db), b"stale").unwrap();
        let engine = Engine::new(
            Arc::new(MemoryStore::new()),
            Limits::default(),
            CancellationToken::new(),
        );
        let joined = engine.join_room("r1", "A", None, None, None).await.unwrap();
        let listening = listen(&db, engine.clone(), CancellationToken::new()).unwrap();
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(listening.path()).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o600);

        let delete = |room: &str| Request::DeleteRoom {
            room_id: room.into(),
        };
        let ok = ask(listening.path(), &delete("r1")).await.unwrap();
        assert_eq!(ok, Answer::done());
        assert!(matches!(
            engine.room("r1", &joined.client_id).await,
            Err(crate::engine::ChatError::RoomNotFound(_))
        ));
        let missing = ask(listening.path(), &delete("r1")).await.unwrap();
        assert_eq!(missing.code.as_deref(), Some("room_not_found"));

        // Not a request: a readable refusal, and the socket goes on serving.
        let raw = {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut s = tokio::net::UnixStream::connect(listening.path())
                .await
                .unwrap();
            s.write_all(b"{\"op\":\"format_disk\"}\n").await.unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).await.unwrap();
            out
        };
        let refused: Answer = serde_json::from_str(raw.trim()).unwrap();
        assert_eq!(refused.code.as_deref(), Some("invalid_request"));

        let path = listening.path().to_owned();
        drop(listening);
        assert!(!path.exists());
        assert!(matches!(
            ask(&path, &delete("r1")).await,
            Err(AskError::NoServer(_))
        ));
    }
}
