//! Builtins (stub, being written).
/// True for Go's builtin function names.
pub fn is_builtin(name: &str) -> bool {
    matches!(name, "and" | "or" | "not" | "len" | "index" | "slice" | "eq" | "ne" | "lt" | "le" | "gt" | "ge" | "print" | "printf" | "println" | "html" | "js" | "urlquery" | "call")
}
