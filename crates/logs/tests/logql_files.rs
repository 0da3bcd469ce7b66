//! Runs every `tests/logql/*.test` file of the repository through the LogQL test runner.

#[test]
fn logql_test_files() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/logql");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "test"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    let mut all = Vec::new();
    let mut passed = 0;
    for f in files {
        let (p, fails) = logs::logqltest::run_file(&f).unwrap_or_else(|e| panic!("{e}"));
        passed += p;
        all.extend(fails);
    }
    eprintln!("logql tests: {passed} passed, {} failed", all.len());
    assert!(all.is_empty(), "{}", all.join("\n"));
}
