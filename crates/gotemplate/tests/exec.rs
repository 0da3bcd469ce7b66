//! Table tests of template execution; expected strings are what Go's text/template prints for
//! the same template and data (cases follow Go's exec_test.go).

use gotemplate::{MissingKey, Template, Value};
use serde_json::json;

fn run(tmpl: &str, data: serde_json::Value) -> Result<String, String> {
    let mut t = Template::new("t");
    t.func("upper", |a: &[Value]| {
        Ok(Value::str(
            a.last()
                .map(|v| v.to_string())
                .unwrap_or_default()
                .to_uppercase(),
        ))
    });
    t.func("fail", |_: &[Value]| Err("boom".to_string()));
    t.parse(tmpl).map_err(|e| e.to_string())?;
    t.execute(&Value::from(data)).map_err(|e| e.to_string())
}

#[test]
fn go_semantics() {
    let d = json!({
        "X": "x", "I": 17, "F": 1.5, "T": true, "Z": 0, "E": "", "N": null,
        "L": [1, 2, 3], "EL": [], "S": ["a", "b"],
        "M": {"one": 1, "two": 2}, "EM": {},
        "U": {"V": {"W": "deep"}},
    });
    let cases: &[(&str, &str)] = &[
        ("hello", "hello"),
        ("{{.X}}", "x"),
        ("{{.I}} {{.F}}", "17 1.5"),
        ("{{.U.V.W}}", "deep"),
        ("{{.Missing}}", "<no value>"),
        ("{{.N}}", "<no value>"),
        ("{{$}}", "map[E: EL:[] EM:map[] F:1.5 I:17 L:[1 2 3] M:map[one:1 two:2] N:<nil> S:[a b] T:true U:map[V:map[W:deep]] X:x Z:0]"),
        ("{{.L}}", "[1 2 3]"),
        ("{{.M}}", "map[one:1 two:2]"),
        ("  {{- .X -}}  ", "x"),
        ("a  {{- /* c */ -}}  b", "ab"),
        ("a {{/* c */}} b", "a  b"),
        ("{{- 3 }} {{- 4 -}} 5", "345"),
        ("{{if .T}}yes{{else}}no{{end}}", "yes"),
        ("{{if .Z}}yes{{else}}no{{end}}", "no"),
        ("{{if .E}}yes{{else if .I}}i{{else}}no{{end}}", "i"),
        ("{{if .EL}}x{{else if .EM}}y{{else}}z{{end}}", "z"),
        ("{{with .U.V}}{{.W}}{{end}}", "deep"),
        ("{{with .E}}x{{else}}empty{{end}}", "empty"),
        ("{{with .E}}x{{else with .X}}{{.}}{{end}}", "x"),
        ("{{range .L}}<{{.}}>{{end}}", "<1><2><3>"),
        ("{{range $i, $v := .S}}{{$i}}={{$v}} {{end}}", "0=a 1=b "),
        ("{{range $v := .S}}{{$v}}{{end}}", "ab"),
        ("{{range $k, $v := .M}}{{$k}}:{{$v}},{{end}}", "one:1,two:2,"),
        ("{{range .EL}}x{{else}}none{{end}}", "none"),
        ("{{range .L}}{{if eq . 2}}{{break}}{{end}}{{.}}{{end}}", "1"),
        ("{{range .L}}{{if eq . 2}}{{continue}}{{end}}{{.}}{{end}}", "13"),
        ("{{range 3}}{{.}}{{end}}", "012"),
        ("{{range 1000000000000}}{{if eq . 2}}{{break}}{{end}}{{.}}{{end}}", "01"),
        ("{{range .N}}x{{else}}nil{{end}}", "nil"),
        ("{{$x := 1}}{{if .T}}{{$x = 2}}{{end}}{{$x}}", "2"),
        ("{{$x := .X}}{{range .L}}{{$x}}{{end}}", "xxx"),
        ("{{range .L}}{{$.X}}{{end}}", "xxx"),
        ("{{$x := 1}}{{range .L}}{{$x = .}}{{end}}{{$x}}", "3"),
        ("{{.X | printf \"%s-%s\" \"a\"}}", "a-x"),
        ("{{\"abc\" | upper}}", "ABC"),
        ("{{upper .X | printf \"%q\"}}", "\"X\""),
        ("{{(upper .X) | len}}", "1"),
        ("{{and 1 0 \"x\"}}|{{and 1 2}}|{{or 0 \"\" 3}}|{{or 0 \"\"}}", "0|2|3|"),
        ("{{and .T (fail)}}", "ERR"),
        ("{{or .T (fail)}}", "true"),
        ("{{not .T}} {{not .E}}", "false true"),
        ("{{len .L}} {{len .X}} {{len .M}}", "3 1 2"),
        ("{{index .L 1}} {{index .M \"two\"}} {{index .S 0}}", "2 2 a"),
        ("{{slice .L 1 2}} {{slice .X 0 1}}", "[2] x"),
        ("{{eq .I 17}} {{ne .X \"y\"}} {{lt 1 2}} {{le 2 2}} {{gt \"b\" \"a\"}} {{ge 1.5 2.5}}", "true true true true true false"),
        ("{{eq .X \"a\" \"b\" \"x\"}}", "true"),
        ("{{print 1 2 \"a\" \"b\" 3}}", "1 2ab3"),
        ("{{println 1 \"a\"}}", "1 a\n"),
        ("{{printf \"%5.2f|%-4d|%x|%v\" 3.14159 7 255 .T}}", " 3.14|7   |ff|true"),
        ("{{html \"<a>&'\\\"\"}}", "&lt;a&gt;&amp;&#39;&#34;"),
        ("{{js \"it's <b>\"}}", "it\\'s \\u003Cb\\u003E"),
        ("{{urlquery \"a b&c\"}}", "a+b%26c"),
        ("{{define \"T1\"}}ONE{{end}}{{template \"T1\"}}", "ONE"),
        ("{{define \"T2\"}}[{{.}}]{{end}}{{template \"T2\" .X}}", "[x]"),
        ("{{block \"B\" .I}}blk{{.}}{{end}}", "blk17"),
        ("{{`raw\\n`}}", "raw\\n"),
        ("{{'a'}} {{0x10}} {{1e3}} {{-5}}", "97 16 1000 -5"),
        ("{{nil | printf \"%v\"}}", "<nil>"),
        ("{{.X.Y}}", "ERR"),
        ("{{index .L 10}}", "ERR"),
        ("{{template \"nope\"}}", "ERR"),
        ("{{fail}}", "ERR"),
        ("{{eq .I \"s\"}}", "ERR"),
        ("{{range .F}}{{end}}x", "ERR"),
        ("{{1 2}}", "ERR"),
    ];
    let mut failures = Vec::new();
    for (tmpl, want) in cases {
        let got = run(tmpl, d.clone());
        let ok = match (&got, *want) {
            (Err(_), "ERR") => true,
            (Ok(g), w) => g == w,
            _ => false,
        };
        if !ok {
            failures.push(format!("{tmpl:?}: want {want:?}, got {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn missing_key_modes() {
    let mut t = Template::new("t");
    t.missing_key(MissingKey::Zero);
    t.parse("[{{.labels.nope}}][{{.any.nope}}]").unwrap();
    let data = Value::map(
        [
            ("labels".to_string(), Value::str_map([("a", "b")])),
            ("any".to_string(), Value::from(json!({"a": 1}))),
        ]
        .into_iter()
        .collect(),
    );
    assert_eq!(t.execute(&data).unwrap(), "[][<no value>]");
    let mut t = Template::new("t");
    t.missing_key(MissingKey::Error);
    t.parse("{{.nope}}").unwrap();
    assert!(t.execute(&Value::from(json!({}))).is_err());
}

#[test]
fn error_messages_are_located() {
    let mut t = Template::new("desc");
    let e = t.parse("ok\n{{ .A | nosuch }}").unwrap_err();
    assert_eq!(
        e.to_string(),
        "template: desc:2: function \"nosuch\" not defined"
    );
    let mut t = Template::new("desc");
    t.parse("line1\n  {{ index .L 5 }}").unwrap();
    let e = t.execute(&Value::from(json!({"L": [1]}))).unwrap_err();
    assert_eq!(
        e.to_string(),
        "template: desc:2:3: executing \"desc\" at <index .L 5>: error calling index: index out of range: 5"
    );
}

#[test]
fn redefinition_and_lookup() {
    let mut t = Template::new("main");
    t.parse("{{define \"a\"}}1{{end}}{{template \"a\"}}")
        .unwrap();
    t.parse_named("extra", "{{define \"a\"}}2{{end}}").unwrap();
    assert!(t.lookup("a"));
    assert_eq!(t.execute(&Value::Nil).unwrap(), "2");
    assert_eq!(t.execute_template("a", &Value::Nil).unwrap(), "2");
}

#[test]
fn recursion_is_bounded() {
    let mut t = Template::new("main");
    t.parse("{{define \"r\"}}{{template \"r\" .}}{{end}}{{template \"r\" .}}")
        .unwrap();
    assert!(t.execute(&Value::Nil).is_err());
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn parse_never_panics(s in "(\\{\\{|\\}\\}|\\{\\{- |[-$. a-zA-Z0-9\"'`|():=,/*\\\\é€\n]){0,40}") {
            let mut t = Template::new("p");
            if t.parse(&s).is_ok() {
                let _ = t.execute(&Value::from(json!({"a": [1, 2], "b": {"c": "d"}})));
            }
        }

        #[test]
        fn plain_text_round_trips(s in "[^{}]{0,60}") {
            let mut t = Template::new("p");
            t.parse(&s).unwrap();
            prop_assert_eq!(t.execute(&Value::Nil).unwrap(), s);
        }
    }
}
