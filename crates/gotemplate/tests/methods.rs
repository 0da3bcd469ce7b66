//! Host-object methods with arguments (`.KV.Remove .Names`), as Alertmanager's templates use.

use gotemplate::{Object, Template, Value};
use std::collections::BTreeMap;

#[derive(Debug)]
struct Kv(BTreeMap<String, String>);

impl Object for Kv {
    fn field(&self, name: &str) -> Option<Value> {
        match name {
            "Names" => Some(Value::list(self.0.keys().map(Value::str).collect())),
            "Self" => Some(Value::object(Kv(self.0.clone()))),
            _ => None,
        }
    }
    fn method(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        match name {
            "Remove" => {
                let Some(Value::List(drop)) = args.first() else {
                    return Some(Err("Remove wants a list of names".into()));
                };
                let drop: Vec<String> = drop
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect();
                let kept = self
                    .0
                    .iter()
                    .filter(|(k, _)| !drop.contains(k))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                Some(Ok(Value::object(Kv(kept))))
            }
            _ => None,
        }
    }
}

fn data() -> Value {
    let kv = |p: &[(&str, &str)]| {
        Value::object(Kv(p
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()))
    };
    let mut m = BTreeMap::new();
    m.insert("A".to_string(), kv(&[("x", "1"), ("y", "2"), ("z", "3")]));
    m.insert("B".to_string(), kv(&[("y", "9")]));
    Value::map(m)
}

fn run(text: &str) -> Result<String, String> {
    let mut t = Template::new("t");
    t.parse(text).map_err(|e| e.to_string())?;
    t.execute(&data()).map_err(|e| e.to_string())
}

#[test]
fn method_with_arguments() {
    assert_eq!(run("{{ (.A.Remove .B.Names).Names }}").unwrap(), "[x z]");
    assert_eq!(
        run("{{ with .A.Remove .B.Names }}{{ .Names }}{{ end }}").unwrap(),
        "[x z]"
    );
    assert_eq!(
        run("{{ $a := .A }}{{ ($a.Remove .B.Names).Names }}").unwrap(),
        "[x z]"
    );
    assert_eq!(
        run("{{ (.B.Names | .A.Self.Remove).Names }}").unwrap(),
        "[x z]"
    );
}

#[test]
fn method_errors() {
    let e = run("{{ .A.Remove 1 }}").unwrap_err();
    assert!(e.contains("error calling Remove"), "{e}");
    let e = run("{{ .A.Nope 1 }}").unwrap_err();
    assert!(e.contains("non-function"), "{e}");
}
