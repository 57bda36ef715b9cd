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

#[test]
fn server_text_cannot_drive_the_terminal() {
    assert_eq!(super::printable("ok\tname\n"), "ok\tname\n");
    assert_eq!(super::printable("\u{1b}[31mred\u{1b}[0m"), "red");
    assert_eq!(super::printable("a\u{1b}]0;title\u{7}b"), "a?]0;title?b");
    assert_eq!(super::printable("x\ry\0\u{9b}2J"), "x?y??2J");
    assert_eq!(super::cell("two\nlines"), "two lines");
    let t = super::table(&["NAME"], &[vec!["evil\u{1b}[2J\nname".into()]]);
    assert_eq!(t, "NAME\nevil name\n");
}
