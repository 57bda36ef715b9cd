//! Unit tests of `config.rs`.

use super::*;

#[test]
fn log_formats_and_file_errors_are_named() {
    assert_eq!(parse_log_format("JSON").unwrap(), LogFormat::Json);
    assert!(
        parse_log_format("xml")
            .unwrap_err()
            .to_string()
            .contains("'xml'")
    );
    let e = read_toml::<toml::Table>(Path::new("/nonexistent/space.toml")).unwrap_err();
    assert!(e.to_string().contains("/nonexistent/space.toml"));
}
