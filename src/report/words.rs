//! Counted nouns for every renderer and message: "1 flow", "2 flows", "0 flows".

/// `n` and `noun`, plural unless `n` is 1: "1 flow", "2 flows". The plural adds `s`, or
/// `es` after `s`, `x` or `ch` ("1 match", "2 matches").
pub fn plural(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {}", plural_noun(noun))
    }
}

/// `noun`, plural unless `n` is 1, without the number: "flow", "flows".
pub fn noun(n: u64, noun: &str) -> String {
    if n == 1 {
        noun.to_string()
    } else {
        plural_noun(noun)
    }
}

/// The plural of `noun`.
fn plural_noun(noun: &str) -> String {
    if noun.ends_with('s') || noun.ends_with('x') || noun.ends_with("ch") {
        format!("{noun}es")
    } else if let Some(stem) = noun.strip_suffix('y')
        && !stem.ends_with(['a', 'e', 'i', 'o', 'u'])
    {
        // copy → copies (a vowel before the y keeps it: key → keys).
        format!("{stem}ies")
    } else {
        format!("{noun}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_is_singular() {
        assert_eq!(plural(0, "flow"), "0 flows");
        assert_eq!(plural(1, "flow"), "1 flow");
        assert_eq!(plural(2, "TLS flow"), "2 TLS flows");
        assert_eq!(plural(2, "match"), "2 matches");
        assert_eq!(plural(2, "copy"), "2 copies");
        assert_eq!(plural(2, "key"), "2 keys");
        assert_eq!(plural(1, "byte"), "1 byte");
        assert_eq!(noun(1, "gap"), "gap");
        assert_eq!(noun(3, "gap"), "gaps");
    }
}
