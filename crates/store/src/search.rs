//! Full-text search in any script. SQLite's `unicode61` tokenizer splits words at spaces and
//! punctuation, which Chinese and Japanese do not have; so, as search engines do for those
//! languages, every run of CJK characters is indexed as its overlapping pairs ("牛顿运动" as
//! "牛顿 顿运 运动"), and a CJK word in a query becomes the phrase of its pairs. A two-character
//! word is then one indexed token, and a longer one matches only where its characters follow
//! each other. Other words match by prefix, accents aside.

/// True for the characters indexed as pairs: Han, kana, Hangul.
fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF       // Hiragana, Katakana
        | 0x3400..=0x4DBF     // CJK Extension A
        | 0x4E00..=0x9FFF     // CJK Unified Ideographs
        | 0xAC00..=0xD7AF     // Hangul syllables
        | 0xF900..=0xFAFF     // CJK compatibility ideographs
        | 0x20000..=0x2FFFF) // CJK Extensions B and on
}

/// The text as it is indexed: CJK runs as overlapping pairs, everything else as it is.
pub(crate) fn index_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    let mut run: Vec<char> = Vec::new();
    let flush = |run: &mut Vec<char>, out: &mut String| {
        match run.len() {
            0 => {}
            1 => {
                out.push(' ');
                out.push(run[0]);
                out.push(' ');
            }
            _ => {
                for pair in run.windows(2) {
                    out.push(' ');
                    out.push(pair[0]);
                    out.push(pair[1]);
                }
                out.push(' ');
            }
        }
        run.clear();
    };
    for c in text.chars() {
        if is_cjk(c) {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// The FTS5 query for what the student typed: every word must match (any order). None when
/// nothing searchable was typed. Nothing typed is ever read as query syntax.
pub(crate) fn match_query(typed: &str) -> Option<String> {
    let mut terms = Vec::new();
    for word in typed.split_whitespace().take(16) {
        if !word.chars().any(|c| c.is_alphanumeric() || is_cjk(c)) {
            continue;
        }
        // The whole word as one phrase: SQLite splits it at punctuation and marks exactly
        // as it split the indexed text, whatever its Unicode tables say.
        let indexed = index_text(word);
        let tokens: Vec<&str> = indexed.split_whitespace().collect();
        let phrase = tokens.join(" ").replace('"', "\"\"");
        let last_is_pair = tokens
            .last()
            .is_some_and(|t| t.chars().count() == 2 && t.chars().all(is_cjk));
        terms.push(if last_is_pair {
            // A CJK word: the phrase of its pairs.
            format!("\"{phrase}\"")
        } else {
            // Other words, and one CJK character alone, match by prefix.
            format!("\"{phrase}\"*")
        });
    }
    (!terms.is_empty()).then(|| terms.join(" AND "))
}

/// A short piece of `text` around the first place one of the typed words appears, the word
/// between `[` and `]`; the start of the text when none does.
pub(crate) fn snippet(text: &str, typed: &str, width: usize) -> String {
    let lower = text.to_lowercase();
    let found = typed
        .split_whitespace()
        .filter_map(|w| {
            let w = w.to_lowercase();
            lower.find(&w).map(|at| (at, w.len()))
        })
        .min();
    // Lowercasing can change byte lengths (rarely): then fall back to the start.
    let found = found.filter(|_| lower.len() == text.len());
    let Some((at, len)) = found else {
        return text.chars().take(width).collect();
    };
    let before: String = {
        let head: Vec<char> = text[..at].chars().collect();
        let mut from = head.len().saturating_sub(width / 2);
        if from > 0 && !head[from - 1].is_whitespace() {
            // Start at a word, not inside one (when the text has spaces).
            if let Some(space) = head[from..].iter().position(|c| c.is_whitespace()) {
                from += space + 1;
            }
        }
        let mut s: String = head[from..].iter().collect();
        if from > 0 {
            s.insert(0, '…');
        }
        s
    };
    let after: String = text[at + len..].chars().take(width).collect();
    let ellipsis = if text[at + len..].chars().count() > width {
        "…"
    } else {
        ""
    };
    format!("{before}[{}]{after}{ellipsis}", &text[at..at + len])
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn cjk_runs_become_pairs_and_latin_stays() {
        assert_eq!(
            index_text("牛顿运动")
                .split_whitespace()
                .collect::<Vec<_>>(),
            ["牛顿", "顿运", "运动"]
        );
        assert_eq!(
            index_text("Newton 牛顿 laws")
                .split_whitespace()
                .collect::<Vec<_>>(),
            ["Newton", "牛顿", "laws"]
        );
        assert_eq!(index_text("光").trim(), "光");
        assert_eq!(
            index_text("物理（第三课）")
                .split_whitespace()
                .collect::<Vec<_>>(),
            ["物理", "（", "第三", "三课", "）"]
        );
    }

    #[test]
    fn queries_quote_everything_typed() {
        assert_eq!(
            match_query("newton laws").unwrap(),
            "\"newton\"* AND \"laws\"*"
        );
        assert_eq!(match_query("运动定律").unwrap(), "\"运动 动定 定律\"");
        assert_eq!(match_query("物理").unwrap(), "\"物理\"");
        assert_eq!(match_query("光").unwrap(), "\"光\"*");
        assert_eq!(
            match_query("\"OR NEAR(x").unwrap(),
            "\"\"\"OR\"* AND \"NEAR(x\"*"
        );
        assert_eq!(match_query("it's"), Some("\"it's\"*".into()));
        assert!(match_query("  ").is_none());
        assert!(match_query("%*\"").is_none());
    }

    #[test]
    fn snippets_mark_the_first_word_found() {
        assert_eq!(
            snippet("kinetic and potential energy", "potential", 20),
            "…and [potential] energy"
        );
        assert_eq!(snippet("a b c d e f g h i j k l m n o p", "p", 4), "…o [p]");
        assert_eq!(snippet("abc", "zzz", 2), "ab");
        assert_eq!(snippet("物理第三课", "第三", 10), "物理[第三]课");
    }
}
