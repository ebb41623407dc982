//! Text the database will keep. PostgreSQL refuses U+0000 in `text` ("invalid byte
//! sequence for encoding UTF8: 0x00"); SQLite keeps it. Typed input with a NUL is the
//! user's to fix (a 400, [`is_nul_in_text`]); text a remote system sent (a response
//! body, an error it caused) is stored with U+FFFD in its place ([`storable`]), so one
//! odd byte in a receiver's answer cannot fail the recording of a whole group of
//! outcomes on one backend and not the other.

use diesel::result::Error as DieselError;

/// `s` with every U+0000 replaced by U+FFFD (the replacement character, as a lossy
/// UTF-8 decode writes for bytes it cannot read).
pub fn storable(s: String) -> String {
    if s.contains('\0') {
        s.replace('\0', "\u{FFFD}")
    } else {
        s
    }
}

/// Whether PostgreSQL refused a statement because a text value held U+0000.
pub fn is_nul_in_text(e: &DieselError) -> bool {
    let DieselError::DatabaseError(_, info) = e else {
        return false;
    };
    let m = info.message();
    m.contains("invalid byte sequence") && m.contains("0x00")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_becomes_the_replacement_character_and_nothing_else_changes() {
        assert_eq!(storable("ok\0then\0".into()), "ok\u{FFFD}then\u{FFFD}");
        assert_eq!(storable("plain ünïcode".into()), "plain ünïcode");
    }
}
