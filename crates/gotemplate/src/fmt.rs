//! Go fmt (stub, being written).
/// Go's %g-like shortest formatting.
pub fn format_float_g(x: f64, _prec: i32) -> String {
    format!("{x}")
}
