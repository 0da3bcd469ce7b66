//! Executor (stub, being written).
use crate::{ExecError, Template, Value};
pub(crate) fn execute(t: &Template, name: &str, _data: &Value) -> Result<String, ExecError> {
    let _ = t.tree(name);
    let _ = t.function(name);
    let _ = t.missing_key_mode();
    Err(ExecError { name: name.into(), line: 0, col: 0, context: String::new(), message: "not implemented".into() })
}
