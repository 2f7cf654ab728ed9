//! Auto-resize: tells the host how tall the document is, so the frame fits its content.
//!
//! Measured the way the reference `App` does: a `ResizeObserver` on `<html>` and `<body>`,
//! coalesced to one measurement per animation frame; `<html>` is set to `height: max-content`
//! for the measurement so the result is the content's height, not the frame's (that is what
//! keeps a host that sizes the frame from our report out of a feedback loop); a
//! `size-changed` notification goes out only when the size actually changed.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use serde_json::Value;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

use super::bridge::Bridge;
use crate::json::object;
use crate::protocol::methods;

struct Inner {
    bridge: Bridge,
    last: Cell<Option<(u32, u32)>>,
    /// The animation frame asked for and not yet run, to cancel on stop.
    frame: Cell<Option<i32>>,
    on_frame: RefCell<Option<Closure<dyn FnMut()>>>,
}

/// Reports the document's size while it lives ([`crate::App::start_auto_resize`]).
pub struct AutoResize {
    observer: web_sys::ResizeObserver,
    _on_resize: Closure<dyn FnMut()>,
    inner: Rc<Inner>,
}

impl AutoResize {
    /// Observes the document and reports its size over `bridge`; `None` without a document.
    pub fn start(bridge: Bridge) -> Option<AutoResize> {
        let document = web_sys::window()?.document()?;
        let inner = Rc::new(Inner {
            bridge,
            last: Cell::new(None),
            frame: Cell::new(None),
            on_frame: RefCell::new(None),
        });
        let frame_inner = Rc::downgrade(&inner);
        *inner.on_frame.borrow_mut() = Some(Closure::new(move || {
            if let Some(inner) = frame_inner.upgrade() {
                inner.frame.set(None);
                inner.measure_and_report();
            }
        }));
        let observed = Rc::downgrade(&inner);
        let on_resize = Closure::<dyn FnMut()>::new(move || {
            if let Some(inner) = observed.upgrade() {
                inner.schedule();
            }
        });
        let observer = web_sys::ResizeObserver::new(on_resize.as_ref().unchecked_ref()).ok()?;
        if let Some(html) = document.document_element() {
            observer.observe(&html);
        }
        if let Some(body) = document.body() {
            observer.observe(&body);
        }
        inner.schedule();
        Some(AutoResize {
            observer,
            _on_resize: on_resize,
            inner,
        })
    }

    /// Stops observing.
    pub fn stop(self) {
        self.observer.disconnect();
        // A frame still pending would call the closure dropped below: cancel it first.
        if let (Some(frame), Some(window)) = (self.inner.frame.take(), web_sys::window()) {
            let _ = window.cancel_animation_frame(frame);
        }
        self.inner.on_frame.borrow_mut().take();
    }
}

impl Inner {
    fn schedule(&self) {
        if self.frame.get().is_some() {
            return;
        }
        let scheduled = web_sys::window().and_then(|w| {
            let callback = self.on_frame.borrow();
            let callback = callback.as_ref()?;
            w.request_animation_frame(callback.as_ref().unchecked_ref())
                .ok()
        });
        self.frame.set(scheduled);
    }

    fn measure_and_report(&self) {
        let Some((width, height)) = measure() else {
            return;
        };
        if self.last.get() == Some((width, height)) {
            return;
        }
        self.last.set(Some((width, height)));
        let _ = self.bridge.notify(
            methods::SIZE_CHANGED,
            Some(object(vec![
                ("width", Value::from(width)),
                ("height", Value::from(height)),
            ])),
        );
    }
}

/// The content's size in CSS pixels, rounded up.
pub fn measure() -> Option<(u32, u32)> {
    let window = web_sys::window()?;
    let html: web_sys::HtmlElement = window.document()?.document_element()?.dyn_into().ok()?;
    let style = html.style();
    let previous = style.get_property_value("height").unwrap_or_default();
    let _ = style.set_property("height", "max-content");
    let height = html.get_bounding_client_rect().height().ceil();
    if previous.is_empty() {
        let _ = style.remove_property("height");
    } else {
        let _ = style.set_property("height", &previous);
    }
    let width = window.inner_width().ok()?.as_f64()?.ceil();
    Some((width as u32, height as u32))
}
