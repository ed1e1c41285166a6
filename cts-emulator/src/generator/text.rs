//! Non-ASCII user and resource names, at a realistic share.
//!
//! A German tenant has a Jürgen and a Straße; a global one has colleagues
//! writing in Cyrillic, Greek, CJK or Arabic script, names with spaces, a
//! right-to-left mark pasted from a chat, and now and then an emoji or a
//! right-to-left override (U+202E) in a resource name. Every part of the
//! chain (headers, JSON, the graph) has to carry such text unchanged, so the
//! generator produces it all the time rather than in a special mode.
//!
//! The choices come from their own random stream (seeded from the generator's
//! seed), so the ASCII parts of the traces are the same as without them.

use rand::rngs::StdRng;
use rand::Rng;

/// Share of human users (per cent) whose login name is not plain ASCII.
pub const USER_PERCENT: u32 = 30;
/// Share of prefixed resource names (per cent) that are not plain ASCII.
pub const RESOURCE_PERCENT: u32 = 15;

const DE_FIRST: &[&str] = &[
    "jürgen",
    "jörg",
    "björn",
    "käthe",
    "günther",
    "sören",
    "bärbel",
    "hans-jürgen",
];
const DE_LAST: &[&str] = &[
    "müller", "groß", "weiß", "schäfer", "köhler", "jäger", "krüger", "fuß", "strauß",
];
const CYRILLIC: &[&str] = &["иван.петров", "ольга.смирнова", "дмитрий.волков"];
const GREEK: &[&str] = &["γιώργος.παπαδόπουλος", "ελένη.νικολάου"];
const CJK: &[&str] = &["王芳", "李伟", "田中.花子", "김민준"];
const ARABIC: &[&str] = &["محمد.العلي", "فاطمة.حسن"];
const SPACED: &[&str] = &["Jürgen Groß", "Anna Schäfer", "Ömer Yılmaz"];

/// A non-ASCII login name, or `None` for this user to keep the ASCII one.
pub fn user_name(rng: &mut StdRng) -> Option<String> {
    if rng.gen_range(0..100) >= USER_PERCENT {
        return None;
    }
    let pick = |rng: &mut StdRng, list: &[&str]| list[rng.gen_range(0..list.len())].to_owned();
    Some(match rng.gen_range(0..100) {
        0..=49 => format!("{}.{}", pick(rng, DE_FIRST), pick(rng, DE_LAST)),
        50..=61 => pick(rng, CYRILLIC),
        62..=69 => pick(rng, GREEK),
        70..=81 => pick(rng, CJK),
        // A right-to-left mark (U+200F) before an Arabic name, as some
        // keyboards and chat tools insert it.
        82..=86 => format!("\u{200F}{}", pick(rng, ARABIC)),
        87..=91 => pick(rng, ARABIC),
        _ => pick(rng, SPACED),
    })
}

const DE_WORDS: &[&str] = &[
    "prüfung",
    "größe",
    "übersicht",
    "bücket",
    "köln",
    "münchen",
    "straße",
    "äpfel",
];
const CJK_WORDS: &[&str] = &["名前", "测试", "生产", "サーバー", "데이터"];
const CYRILLIC_WORDS: &[&str] = &["тест", "сервер", "продакшн"];
const GREEK_WORDS: &[&str] = &["δοκιμή", "παραγωγή", "αρχείο"];
const ARABIC_WORDS: &[&str] = &["اختبار", "إنتاج", "خادم"];
/// Single code points, a ZWJ sequence and a flag (two regional indicators).
const EMOJI: &[&str] = &["🚀", "🔥", "✅", "👩\u{200D}💻", "🇩🇪"];
const SPACED_WORDS: &[&str] = &["grüne wiese", "büro köln", "shop übersicht"];

/// A non-ASCII name for a resource of `prefix` (e.g. `ecs`), or `None` to
/// keep the ASCII one. `n` is the resource's sequence number.
pub fn resource_name(rng: &mut StdRng, prefix: &str, n: u64) -> Option<String> {
    if rng.gen_range(0..100) >= RESOURCE_PERCENT {
        return None;
    }
    let pick = |rng: &mut StdRng, list: &[&'static str]| list[rng.gen_range(0..list.len())];
    let n = n % 100;
    Some(match rng.gen_range(0..100) {
        0..=39 => format!("{prefix}-{}-{n:02}", pick(rng, DE_WORDS)),
        40..=54 => format!("{prefix}-{}-{n:02}", pick(rng, CJK_WORDS)),
        55..=66 => format!("{prefix}-{}-{n:02}", pick(rng, CYRILLIC_WORDS)),
        67..=74 => format!("{prefix}-{}-{n:02}", pick(rng, GREEK_WORDS)),
        75..=82 => format!("{prefix}-\u{200F}{}-{n:02}", pick(rng, ARABIC_WORDS)),
        83..=89 => format!("{prefix}-{}-{n:02}", pick(rng, EMOJI)),
        90..=94 => format!("{prefix} {} {n:02}", pick(rng, SPACED_WORDS)),
        // A right-to-left override (U+202E): shown reversed from there on.
        _ => format!("{prefix}-bücket-名前-\u{202E}{n:02}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn shares_are_near_their_targets_and_every_kind_appears() {
        let mut rng = StdRng::seed_from_u64(3);
        let users: Vec<Option<String>> = (0..10_000).map(|_| user_name(&mut rng)).collect();
        let names: Vec<&String> = users.iter().flatten().collect();
        let share = names.len() as f64 / users.len() as f64;
        assert!((0.27..0.33).contains(&share), "user share {share}");
        assert!(names.iter().all(|n| !n.is_ascii()));
        for probe in ['ü', 'ß', 'и', 'γ', '王', 'م', '\u{200F}', ' '] {
            assert!(
                names.iter().any(|n| n.contains(probe)),
                "no user with {probe:?}"
            );
        }

        let res: Vec<Option<String>> = (0..10_000)
            .map(|i| resource_name(&mut rng, "ecs", i))
            .collect();
        let names: Vec<&String> = res.iter().flatten().collect();
        let share = names.len() as f64 / res.len() as f64;
        assert!((0.13..0.17).contains(&share), "resource share {share}");
        assert!(names.iter().all(|n| !n.is_ascii() && n.starts_with("ecs")));
        for probe in [
            'ü', 'ß', '名', 'т', 'δ', 'ا', '🚀', '\u{202E}', '\u{200F}', ' ',
        ] {
            assert!(
                names.iter().any(|n| n.contains(probe)),
                "no resource with {probe:?}"
            );
        }
    }

    #[test]
    fn same_seed_same_names() {
        let run = |seed| {
            let mut rng = StdRng::seed_from_u64(seed);
            (0..200)
                .map(|i| (user_name(&mut rng), resource_name(&mut rng, "evs", i)))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(9), run(9));
        assert_ne!(run(9), run(10));
    }
}
