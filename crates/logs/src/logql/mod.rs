//! LogQL: tokenizer ([`lexer`]), syntax tree ([`ast`]), hand-written parser ([`parser`]), the
//! per-entry log pipeline ([`pipeline`]), `line_format` templates ([`template`]) and the
//! evaluator ([`eval`]). [`instant_query`] is the entry point for LogQL rules.

pub mod ast;
pub mod eval;
pub mod lexer;
pub mod parser;
pub mod pipeline;
pub mod template;

pub use eval::{
    exec, instant_query, query, OutEntry, Params, QueryError, QueryResult, QueryStats, StreamResult,
};
pub use lexer::ParseError;
pub use parser::{parse, parse_selector};
