//! Characters in text from a server that a terminal would act on, or that
//! disguise what is shown: the one list both the dashboard and the NDJSON
//! output keep from reaching a terminal as they are.

/// C1 controls (U+009B is a CSI on many terminals), bidirectional controls
/// and overrides, zero-width and invisible formatting characters, and Unicode
/// tag characters (invisible, able to hide text or prompts in a name). C0
/// controls and DEL are not in it: each output has its own form for those.
pub fn is_disguising(c: char) -> bool {
    matches!(c,
        '\u{80}'..='\u{9f}'
        | '\u{61c}'
        | '\u{200b}'..='\u{200f}'
        | '\u{2028}'..='\u{202e}'
        | '\u{2060}'..='\u{206f}'
        | '\u{feff}'
        | '\u{fff9}'..='\u{fffb}'
        | '\u{e0000}'..='\u{e007f}')
}
