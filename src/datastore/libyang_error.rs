//! The last error libyang recorded, with the fields the `yang3` crate
//! drops (the validation error code and the schema path).
//!
//! libyang stores errors per thread and per context. The datastore task is
//! the only thread that parses and validates data, so the last error is the
//! one of the call that just failed. [`LibyangError::clear`] runs before
//! each call whose error is read.

use std::ffi::{CStr, c_char};

use yang3::ffi;

/// libyang's validation error codes (`LY_VECODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValidationCode {
    /// A reference to a node or module that does not exist, for example an
    /// element that is not in the schema.
    Reference,
    /// A value or instance that breaks a schema rule.
    Data,
    /// XML syntax.
    SyntaxXml,
    /// Anything else.
    Other,
}

/// One libyang error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LibyangError {
    pub code: ValidationCode,
    pub message: String,
    pub data_path: Option<String>,
    pub app_tag: Option<String>,
}

impl std::fmt::Display for LibyangError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)?;
        if let Some(path) = &self.data_path {
            write!(f, " (at {path})")?;
        }
        Ok(())
    }
}

impl LibyangError {
    /// Forgets earlier errors of this thread.
    pub fn clear() {
        if let Some(context) = raw_context() {
            // SAFETY: a NULL item means "all errors" of this thread.
            unsafe { ffi::ly_err_clean(context.cast_mut(), std::ptr::null_mut()) };
        }
    }

    /// Returns the last error recorded on this thread.
    pub fn last() -> LibyangError {
        let unknown = LibyangError {
            code: ValidationCode::Other,
            message: "libyang reported an error without a message".into(),
            data_path: None,
            app_tag: None,
        };
        let Some(context) = raw_context() else {
            return unknown;
        };
        // SAFETY: ly_err_last returns NULL or an item that stays valid until
        // the next clean on this thread; every field is read before that.
        unsafe {
            let item = ffi::ly_err_last(context);
            if item.is_null() {
                return unknown;
            }
            let code = match (*item).vecode {
                ffi::LY_VECODE::LYVE_REFERENCE => ValidationCode::Reference,
                ffi::LY_VECODE::LYVE_DATA => ValidationCode::Data,
                ffi::LY_VECODE::LYVE_SYNTAX_XML => ValidationCode::SyntaxXml,
                _ => ValidationCode::Other,
            };
            LibyangError {
                code,
                message: opt_string((*item).msg).unwrap_or(unknown.message),
                data_path: opt_string((*item).data_path),
                app_tag: opt_string((*item).apptag),
            }
        }
    }
}

fn raw_context() -> Option<*const ffi::ly_ctx> {
    let context = crate::schema::context().ok()?;
    let raw = crate::schema::raw_context(context);
    (!raw.is_null()).then_some(raw)
}

fn opt_string(raw: *const c_char) -> Option<String> {
    if raw.is_null() {
        return None;
    }
    // SAFETY: libyang strings are NUL-terminated.
    Some(
        unsafe { CStr::from_ptr(raw) }
            .to_string_lossy()
            .into_owned(),
    )
}
