//! Tells a site's own notices from article prose, one rendered paragraph
//! at a time: calls to action (subscribe, follow us, download the app,
//! newsletter sign-up), rights and reprint notices, and photo credit
//! lines. A notice reads like prose, so length and punctuation cannot
//! find it; its vocabulary can (the boilerplate phrase density of
//! jusText-style classifiers, in the languages the web mostly uses).
//!
//! It must never decide on one word alone: a paragraph is a notice only
//! when its phrase hits are dense for its length (one hit in a short
//! paragraph, several in a long one), so an article that mentions a
//! newsletter or a copyright dispute in passing stays. It only judges; it
//! never edits the text.

use super::dom::visible_chars;

/// Call-to-action and site-notice vocabulary, lower case, each matched at
/// the start of a word (`abonn` finds "abonnieren" and "Abonnent", not
/// the middle of another word). Generic phrases only: names of networks
/// and words that articles use as often as notices ("comments",
/// "related", "contact", "share") are left out, they would cut real
/// closing paragraphs.
const PHRASES: &[&str] = &[
    // English
    "subscribe",
    "subscriber",
    "subscription",
    "newsletter",
    "sign up",
    "signing up",
    "log in",
    "follow us",
    "share this",
    "download the",
    "our app",
    "ios and android",
    "all rights reserved",
    "copyright",
    "advertis",
    "sponsored",
    "cookie",
    "privacy policy",
    "terms of use",
    "terms of service",
    "contact us",
    "read more",
    "recommended",
    "you may also like",
    "about the author",
    "permission",
    "republish",
    "support our",
    "donate",
    "become a member",
    "membership",
    "unlimited access",
    "full story",
    "breaking news",
    "click here",
    "leave a comment",
    "letter to the editor",
    "rss",
    "trackback",
    // German
    "abonn",
    "anmelden",
    "melde dich",
    "folgen sie",
    "folge uns",
    "ios und android",
    "alle rechte vorbehalten",
    "werbung",
    "anzeige",
    "datenschutz",
    "impressum",
    "weiterlesen",
    "mehr zum thema",
    "lesen sie auch",
    "über den autor",
    "über die autorin",
    "registrieren",
    // French
    "abonnez",
    "inscrivez",
    "tous droits réservés",
    "suivez-nous",
    "publicité",
    "lire aussi",
    "à lire",
    "commentaire",
    // Spanish, Portuguese, Italian
    "suscr",
    "síguenos",
    "siguenos",
    "hazte miembro",
    "todos los derechos reservados",
    "publicidad",
    "lea también",
    "lee también",
    "únete",
    "comentario",
    "assine",
    "siga-nos",
    "iscriviti",
    "seguici",
    "tutti i diritti",
    // Polish, Dutch
    "subskryp",
    "zapraszamy",
    "obserwuj",
    "alle rechten voorbehouden",
    "volg ons",
    "abonneer",
];

/// Marks of a rights notice, matched anywhere.
const RIGHTS_MARKS: &[&str] = &["©", "(c)"];

/// Phrase hits and the most words a paragraph may have for them to make
/// it a notice: one call to action in a short paragraph ("Follow us on
/// Telegram for live updates"), two in a longer one, three in a
/// subscription pitch; longer paragraphs are prose whatever they mention.
const NOTICE_LIMITS: &[(usize, usize)] = &[(1, 40), (2, 80), (3, 200)];

/// Characters per word in scripts written without spaces (Chinese,
/// Japanese), to count words comparably.
const CHARS_PER_CJK_WORD: usize = 2;

/// A credit line ("Foto: dpa", "Photo: Jane Roe") is at most this long
/// (non-whitespace characters): a caption with its credit, not a
/// paragraph that starts with the word.
const CREDIT_MAX_CHARS: usize = 100;

/// First words of a photo or source credit line, lower case, followed by
/// `:` or `©`.
const CREDIT_WORDS: &[&str] = &[
    "foto", "fotos", "photo", "photos", "bild", "bilder", "image", "picture", "credit", "credits",
    "quelle", "source", "crédit", "crédits",
];

/// A dateline bar is one line of at most this many characters
/// (non-whitespace): a date with the author, section or comment count
/// beside it, not a sentence.
const DATELINE_MAX_CHARS: usize = 100;

/// What separates the fields of a dateline bar ("May 10, 2022 | Staff |
/// 3 comments").
const DATELINE_SEPARATOR: char = '|';

/// How month names start, lower case, in the languages of [`PHRASES`]:
/// a month token next to a one- or two-digit day makes a date.
const MONTHS: &[&str] = &[
    "jan", "feb", "mär", "mar", "apr", "mai", "may", "jun", "jul", "aug", "sep", "okt", "oct",
    "nov", "dec", "dez", "févr", "avr", "juin", "juil", "août", "déc", "ene", "abr", "ago", "dic",
];

/// Whether `paragraph` is a post's metadata bar: one short line holding
/// a date and fields separated by `|` ("January 13, 2020 | categories:
/// Python | View Comments", "Published: 22:00, 26 September 2020 |
/// Updated: ..."). A dateline without the bar stays: some article texts
/// open with their date as a line of prose.
pub(super) fn is_dateline_bar(paragraph: &str) -> bool {
    let line = paragraph.trim();
    !line.contains('\n')
        && line.contains(DATELINE_SEPARATOR)
        && visible_chars(line) <= DATELINE_MAX_CHARS
        && has_date(line)
}

/// A numeric date (`27.01.2022`, `6/13/2018`, `2019-02-15`) or a month
/// name next to a day number (`May 10`, `26 September`).
fn has_date(line: &str) -> bool {
    let lower = line.to_lowercase();
    let tokens: Vec<&str> = lower
        .split(|c: char| c.is_whitespace() || c == ',' || c == '|')
        .map(|token| token.trim_matches(|c: char| matches!(c, '.' | '(' | ')' | ':')))
        .filter(|token| !token.is_empty())
        .collect();
    let is_day =
        |token: &str| (1..=2).contains(&token.len()) && token.chars().all(|c| c.is_ascii_digit());
    let is_month = |token: &str| {
        token.chars().next().is_some_and(char::is_alphabetic)
            && MONTHS.iter().any(|month| token.starts_with(month))
    };
    tokens.iter().any(|token| is_numeric_date(token))
        || tokens.windows(2).any(|pair| {
            (is_month(pair[0]) && is_day(pair[1])) || (is_day(pair[0]) && is_month(pair[1]))
        })
}

/// Three groups of digits joined by one kind of separator, one of them
/// four digits long or the last one two.
fn is_numeric_date(token: &str) -> bool {
    ['.', '/', '-'].iter().any(|&separator| {
        let parts: Vec<&str> = token.split(separator).collect();
        parts.len() == 3
            && parts.iter().all(|part| {
                (1..=4).contains(&part.len()) && part.chars().all(|c| c.is_ascii_digit())
            })
            && parts.iter().any(|part| part.len() >= 2)
    })
}

/// Whether `paragraph` is a site notice: enough call-to-action phrases
/// for its length (see [`NOTICE_LIMITS`]).
pub(super) fn is_notice(paragraph: &str) -> bool {
    let hits = phrase_hits(paragraph);
    if hits == 0 {
        return false;
    }
    let words = words(paragraph);
    NOTICE_LIMITS
        .iter()
        .any(|&(least, most)| hits >= least && words <= most)
}

/// Whether `paragraph` is one short line crediting a photo or a source.
pub(super) fn is_credit(paragraph: &str) -> bool {
    let line = paragraph.trim();
    if line.contains('\n') || visible_chars(line) > CREDIT_MAX_CHARS {
        return false;
    }
    let lower = line.to_lowercase();
    let word: String = lower.chars().take_while(|c| c.is_alphabetic()).collect();
    let rest = lower[word.len()..].trim_start();
    CREDIT_WORDS.contains(&word.as_str()) && (rest.starts_with(':') || rest.starts_with('©'))
}

/// Call-to-action phrases starting a word, plus rights marks.
fn phrase_hits(paragraph: &str) -> usize {
    let lower = paragraph.to_lowercase();
    let starts_word = |at: usize| {
        lower[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_alphanumeric())
    };
    let phrases: usize = PHRASES
        .iter()
        .map(|phrase| {
            lower
                .match_indices(phrase)
                .filter(|&(at, _)| starts_word(at))
                .count()
        })
        .sum();
    let marks: usize = RIGHTS_MARKS
        .iter()
        .map(|mark| lower.matches(mark).count())
        .sum();
    phrases + marks
}

/// Words of `paragraph`; in a paragraph with Chinese or Japanese text,
/// its characters over [`CHARS_PER_CJK_WORD`].
fn words(paragraph: &str) -> usize {
    if paragraph.chars().any(is_cjk) {
        visible_chars(paragraph) / CHARS_PER_CJK_WORD
    } else {
        paragraph.split_whitespace().count()
    }
    .max(1)
}

/// CJK ideographs and Japanese kana.
fn is_cjk(c: char) -> bool {
    matches!(c, '\u{3040}'..='\u{30ff}' | '\u{4e00}'..='\u{9fff}')
}

#[cfg(test)]
mod tests {
    use super::{is_credit, is_dateline_bar, is_notice};

    /// Calls to action in several languages are notices; prose that
    /// mentions one phrase among many words is not.
    #[test]
    fn notices_need_dense_phrases() {
        assert!(is_notice(
            "Subscribe now to our e-edition for the full story."
        ));
        assert!(is_notice(
            "Síguenos en Telegram, Instagram y Twitter para recibir nuestras actualizaciones"
        ));
        assert!(is_notice(
            "Lust auf mehr? Melde dich hier für unseren Newsletter an!"
        ));
        assert!(!is_notice(
            "The council said the newsletter, which had been sent to every household in the \
             district since the spring, would stop in June because printing costs had doubled, \
             and that residents who wanted updates would find them on the notice boards \
             outside the town hall and the library from now on."
        ));
        assert!(!is_notice(
            "Ihre Bewerbung richten Sie bitte an die Personalabteilung."
        ));
    }

    /// A short line with a date and `|` fields is a dateline bar; a date
    /// line without the bar and a sentence with a bar are not.
    #[test]
    fn dateline_bars_need_a_date_and_fields() {
        assert!(is_dateline_bar(
            "January 13, 2020 at 08:45 AM | categories: Python | View Comments"
        ));
        assert!(is_dateline_bar("Staff Consortium | 10.05.2022 01:52:54 PM"));
        assert!(!is_dateline_bar("Sunday, May 8, 2016"));
        assert!(!is_dateline_bar("Sections | Opinion | Sports"));
    }

    /// Short credit lines are credits; a paragraph starting with the word
    /// is not.
    #[test]
    fn credits_are_short_labelled_lines() {
        assert!(is_credit("Foto: unsplash/Jane Roe"));
        assert!(is_credit("Photo © Reuters"));
        assert!(!is_credit("Photography is my passion: I shoot every day."));
        assert!(!is_credit("Source code is on the project's page."));
    }
}
