//! Unit tests of `output.rs`.

#[test]
fn table_aligns() {
    let t = super::table(
        &["NAME", "X"],
        &[
            vec!["a".into(), "1".into()],
            vec!["long".into(), "2".into()],
        ],
    );
    assert_eq!(t, "NAME  X\na     1\nlong  2\n");
}
