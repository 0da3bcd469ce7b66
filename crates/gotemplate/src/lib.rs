//! A Go `text/template` interpreter: parses Go template text (actions, trim markers, comments,
//! pipelines, variables, `if`/`range`/`with`/`define`/`template`/`block`, `break`/`continue`) and
//! executes it over [`Value`] data with Go's builtins (`and`, `or`, `not`, `len`, `index`,
//! `slice`, `eq`…`ge`, `print`/`printf`/`println`, `html`, `js`, `urlquery`) plus caller-registered
//! functions. Prometheus' and Alertmanager's function sets live with their callers, not here.
//!
//! ```
//! use gotemplate::{Template, Value};
//! let mut t = Template::new("t");
//! t.parse("Hello {{ .name }}!").unwrap();
//! let data = Value::from(serde_json::json!({"name": "world"}));
//! assert_eq!(t.execute(&data).unwrap(), "Hello world!");
//! ```

pub mod exec;
pub mod fmt;
pub mod funcs;
pub mod parse;
pub mod value;

use std::collections::HashMap;
use std::sync::Arc;

pub use value::{Map, Object, Value};

/// A template function: receives the evaluated arguments (the piped value last) and returns a
/// value or an error message (which aborts execution, as a Go function returning an error does).
pub type Func = Arc<dyn Fn(&[Value]) -> Result<Value, String> + Send + Sync>;

/// Functions callable from templates by name.
pub type FuncMap = HashMap<String, Func>;

/// What a missing map key yields (Go's `Option("missingkey=...")`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MissingKey {
    /// `<no value>` (Go's default).
    #[default]
    Default,
    /// The zero value of the map's element type (`""` for `map[string]string`). Prometheus and
    /// Alertmanager use this.
    Zero,
    /// Execution error.
    Error,
}

/// A parse error with the template name and 1-based line, formatted like Go's
/// `template: NAME:LINE: message`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("template: {name}:{line}: {message}")]
pub struct ParseError {
    /// Template name.
    pub name: String,
    /// 1-based line in the template text.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// An execution error, formatted like Go's `template: NAME:LINE:COL: executing "NAME" at <...>: msg`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("template: {name}:{line}:{col}: executing \"{name}\" at <{context}>: {message}")]
pub struct ExecError {
    /// Name of the template being executed.
    pub name: String,
    /// 1-based line of the failing node.
    pub line: usize,
    /// 1-based column (byte offset in the line) of the failing node.
    pub col: usize,
    /// Source text of the failing node.
    pub context: String,
    /// What went wrong.
    pub message: String,
}

/// A set of named templates (the main one plus every `define`/`block`), with its functions and options.
#[derive(Clone)]
pub struct Template {
    name: String,
    funcs: FuncMap,
    missing_key: MissingKey,
    trees: HashMap<String, Arc<parse::Tree>>,
}

impl std::fmt::Debug for Template {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Template")
            .field("name", &self.name)
            .field("templates", &self.trees.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Template {
    /// An empty template set whose main template is `name`.
    pub fn new(name: &str) -> Self {
        Template {
            name: name.to_string(),
            funcs: HashMap::new(),
            missing_key: MissingKey::Default,
            trees: HashMap::new(),
        }
    }

    /// The main template's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Register functions (must happen before `parse`: unknown function names are parse errors, as in Go).
    pub fn funcs(&mut self, funcs: FuncMap) -> &mut Self {
        self.funcs.extend(funcs);
        self
    }

    /// Register one function.
    pub fn func(
        &mut self,
        name: &str,
        f: impl Fn(&[Value]) -> Result<Value, String> + Send + Sync + 'static,
    ) -> &mut Self {
        self.funcs.insert(name.to_string(), Arc::new(f));
        self
    }

    /// Set what a missing map key yields.
    pub fn missing_key(&mut self, mk: MissingKey) -> &mut Self {
        self.missing_key = mk;
        self
    }

    /// Parse `text` as the body of the main template; `define`d templates are added to the set
    /// (a later definition replaces an earlier one, as in Go). An empty body (only definitions
    /// and whitespace) does not replace an existing main body.
    pub fn parse(&mut self, text: &str) -> Result<&mut Self, ParseError> {
        let name = self.name.clone();
        self.parse_named(&name, text)
    }

    /// Parse `text` as the body of template `name` (like Go's `t.New(name).Parse(text)`).
    pub fn parse_named(&mut self, name: &str, text: &str) -> Result<&mut Self, ParseError> {
        let parsed = parse::parse(name, text, &|f| {
            self.funcs.contains_key(f) || funcs::is_builtin(f)
        })?;
        for (n, tree) in parsed {
            if n == name && tree.is_empty_body() && self.trees.contains_key(&n) {
                continue;
            }
            self.trees.insert(n, Arc::new(tree));
        }
        Ok(self)
    }

    /// True when a template of that name is defined.
    pub fn lookup(&self, name: &str) -> bool {
        self.trees.contains_key(name)
    }

    /// Names of all defined templates, sorted.
    pub fn template_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.trees.keys().cloned().collect();
        v.sort();
        v
    }

    /// Execute the main template.
    pub fn execute(&self, data: &Value) -> Result<String, ExecError> {
        self.execute_template(&self.name, data)
    }

    /// Execute the named template.
    pub fn execute_template(&self, name: &str, data: &Value) -> Result<String, ExecError> {
        exec::execute(self, name, data)
    }

    pub(crate) fn tree(&self, name: &str) -> Option<&Arc<parse::Tree>> {
        self.trees.get(name)
    }

    pub(crate) fn function(&self, name: &str) -> Option<&Func> {
        self.funcs.get(name)
    }

    pub(crate) fn missing_key_mode(&self) -> MissingKey {
        self.missing_key
    }
}
