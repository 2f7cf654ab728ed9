//! Message times in the host's locale and time zone (`hostContext.locale`, `.timeZone`).
//!
//! `Intl.DateTimeFormat` is reached through `Reflect` so that an invalid locale or zone from a
//! host is a caught exception (we fall back to the browser's defaults), never a crash.

use js_sys::{Array, Function, Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};

#[derive(Clone)]
pub struct TimeFormat {
    format: Option<(JsValue, Function)>,
}

impl TimeFormat {
    pub fn new(locale: Option<&str>, time_zone: Option<&str>) -> TimeFormat {
        let attempts = [(locale, time_zone), (locale, None), (None, None)];
        let format = attempts.iter().find_map(|(l, z)| build(*l, *z).ok());
        TimeFormat { format }
    }

    /// `14:03`-style time (per locale) for a Unix time in milliseconds.
    pub fn format(&self, millis: u64) -> String {
        let date = js_sys::Date::new(&JsValue::from_f64(millis as f64));
        if let Some((formatter, format)) = &self.format
            && let Ok(text) = format.call1(formatter, &date)
            && let Some(text) = text.as_string()
        {
            return text;
        }
        date.to_iso_string().as_string().unwrap_or_default()
    }
}

fn build(locale: Option<&str>, time_zone: Option<&str>) -> Result<(JsValue, Function), JsValue> {
    let intl = Reflect::get(&js_sys::global(), &"Intl".into())?;
    let constructor: Function = Reflect::get(&intl, &"DateTimeFormat".into())?.dyn_into()?;
    let options = Object::new();
    Reflect::set(&options, &"hour".into(), &"2-digit".into())?;
    Reflect::set(&options, &"minute".into(), &"2-digit".into())?;
    if let Some(zone) = time_zone {
        Reflect::set(&options, &"timeZone".into(), &zone.into())?;
    }
    let locales = match locale {
        Some(l) => Array::of1(&l.into()).into(),
        None => JsValue::UNDEFINED,
    };
    let formatter = Reflect::construct(&constructor, &Array::of2(&locales, &options))?;
    let format: Function = Reflect::get(&formatter, &"format".into())?.dyn_into()?;
    Ok((formatter, format))
}
