//! The rule that picks how a POSTed request's answer leaves over
//! Streamable HTTP: as one JSON body when the answer stream's first
//! message is the final answer and comes within [`JSON_ANSWER_WAIT`],
//! else as the stream itself. [`read_first`] reads a stream that far;
//! what each item is (quiet, the final answer, anything else) is the
//! caller's to say, as it reads rmcp's typed events or the SSE bytes rmcp
//! framed.
//!
//! # Must never
//! - take as the answer an item that follows anything but quiet items;
//! - lose, reorder or keep back an item it read: when there is no answer,
//!   every item read comes back, in order, before the stream's rest;
//! - read past the first item that is neither quiet nor the answer, or
//!   wait past [`JSON_ANSWER_WAIT`] or the caller's stop.

use std::{future::Future, time::Duration};

use futures::{
    Stream, StreamExt,
    stream::{Chain, Fuse, Iter},
};

/// How long a request's answer stream is read before it is sent on as SSE
/// rather than as one JSON body. A cheap call answers in well under a
/// millisecond; past a second the client is better served by the SSE
/// stream's priming event (it may reconnect and resume) and its
/// keep-alives, which hold idle proxies open on a long call.
pub const JSON_ANSWER_WAIT: Duration = Duration::from_secs(1);

/// What one item of an answer stream is, to the rule.
#[derive(Debug, PartialEq, Eq)]
pub enum Kind<A> {
    /// No message (a priming event, a keep-alive): read on.
    Quiet,
    /// The final answer to the request (a result or an error), as the
    /// caller wants it back.
    Answer(A),
    /// Anything else (a notification, a request to the client, a shape
    /// not recognised): the answer is the stream.
    Other,
}

impl<A> Kind<A> {
    /// The same kind, its answer (if any) passed through `f`.
    pub fn map<B>(self, f: impl FnOnce(A) -> B) -> Kind<B> {
        match self {
            Self::Quiet => Kind::Quiet,
            Self::Answer(answer) => Kind::Answer(f(answer)),
            Self::Other => Kind::Other,
        }
    }
}

/// How an answer stream began.
pub enum First<A, S: Stream> {
    /// The final answer came first (after quiet items only), in time.
    Answer(A),
    /// Anything else: the stream, to be sent as it is.
    Stream(Replay<S>),
}

/// An answer stream read in part: what was read of it, then the rest.
pub struct Replay<S: Stream> {
    /// The items read, in order.
    pub read: Vec<S::Item>,
    /// The stream after them (fused: it may have ended already).
    pub rest: Fuse<S>,
}

impl<S: Stream> Replay<S> {
    /// The whole stream again: the items read, then the rest.
    pub fn into_stream(self) -> Chain<Iter<std::vec::IntoIter<S::Item>>, Fuse<S>> {
        futures::stream::iter(self.read).chain(self.rest)
    }
}

/// Read `stream` until `kind` finds the final answer among quiet items
/// only ([`First::Answer`]), or until an item of another kind, the
/// stream's end, [`JSON_ANSWER_WAIT`] or `stop` ([`First::Stream`]; pass
/// [`std::future::pending`] for no stop).
pub async fn read_first<S, A>(
    stream: S,
    mut kind: impl FnMut(&S::Item) -> Kind<A>,
    stop: impl Future<Output = ()>,
) -> First<A, S>
where
    S: Stream + Unpin,
{
    let mut stream = stream.fuse();
    let mut read = Vec::new();
    let wait = tokio::time::sleep(JSON_ANSWER_WAIT);
    tokio::pin!(wait, stop);
    loop {
        let item = tokio::select! {
            item = stream.next() => item,
            () = &mut wait => break,
            () = &mut stop => break,
        };
        let Some(item) = item else { break };
        match kind(&item) {
            Kind::Quiet => read.push(item),
            Kind::Answer(answer) => return First::Answer(answer),
            Kind::Other => {
                read.push(item);
                break;
            }
        }
    }
    First::Stream(Replay { read, rest: stream })
}

#[cfg(test)]
mod tests {
    use std::pin::Pin;

    use futures::stream;
    use tokio::time::{Instant, sleep};

    use super::*;

    /// A test stream: labels, each read by [`label`].
    type Labels = Pin<Box<dyn Stream<Item = &'static str> + Send>>;

    /// `q…` is quiet, `a…` the answer (the label itself), anything else
    /// other.
    fn label(item: &&'static str) -> Kind<&'static str> {
        match item.as_bytes().first() {
            Some(b'q') => Kind::Quiet,
            Some(b'a') => Kind::Answer(*item),
            _ => Kind::Other,
        }
    }

    /// `items` at once, then nothing more ever (the stream stays open).
    fn then_silence(items: &[&'static str]) -> Labels {
        Box::pin(stream::iter(items.to_vec()).chain(stream::pending()))
    }

    /// `items` at once, then `late` after `delay`, then the end.
    fn then_late(items: &[&'static str], delay: Duration, late: &'static str) -> Labels {
        let late = stream::once(async move {
            sleep(delay).await;
            late
        });
        Box::pin(stream::iter(items.to_vec()).chain(late))
    }

    /// What was read, when the stream was handed back.
    fn replayed(first: First<&'static str, Labels>) -> Replay<Labels> {
        match first {
            First::Answer(answer) => panic!("answered {answer}, expected the stream"),
            First::Stream(replay) => replay,
        }
    }

    /// A final answer first is the answer, without waiting.
    #[tokio::test]
    async fn answer_first_is_the_answer() {
        tokio::time::pause();
        let start = Instant::now();
        let first = read_first(then_silence(&["a1"]), label, std::future::pending()).await;
        assert!(matches!(first, First::Answer("a1")));
        assert_eq!(start.elapsed(), Duration::ZERO);
    }

    /// Quiet items before the answer (rmcp's priming event, keep-alives)
    /// leave it the answer.
    #[tokio::test]
    async fn quiet_then_answer_is_the_answer() {
        tokio::time::pause();
        let first = read_first(
            then_silence(&["q1", "q2", "a1"]),
            label,
            std::future::pending(),
        );
        assert!(matches!(first.await, First::Answer("a1")));
    }

    /// Anything else first hands back the stream: what was read, in
    /// order, then the rest untouched (an answer after it included).
    #[tokio::test]
    async fn other_first_replays_in_order_with_the_rest() {
        tokio::time::pause();
        let items = ["q1", "n1", "a1", "n2"];
        let first = read_first(
            Box::pin(stream::iter(items)) as Labels,
            label,
            std::future::pending(),
        )
        .await;
        let replay = replayed(first);
        assert_eq!(replay.read, ["q1", "n1"]);
        assert_eq!(replay.into_stream().collect::<Vec<_>>().await, items);
    }

    /// An answer that comes only after [`JSON_ANSWER_WAIT`] is not taken:
    /// the stream comes back at the wait, and the answer is still in its
    /// rest; one that comes sooner is the answer.
    #[tokio::test]
    async fn the_wait_elapsing_replays() {
        tokio::time::pause();
        let start = Instant::now();
        let late = then_late(&["q1"], JSON_ANSWER_WAIT * 2, "a1");
        let mut replay = replayed(read_first(late, label, std::future::pending()).await);
        // The paused clock jumps to each timer's deadline (tokio rounds
        // it up to the next millisecond): the wait, not the late answer.
        assert!((JSON_ANSWER_WAIT..JSON_ANSWER_WAIT * 2).contains(&start.elapsed()));
        assert_eq!(replay.read, ["q1"]);
        assert_eq!(replay.rest.next().await, Some("a1"));

        let soon = then_late(&["q1"], JSON_ANSWER_WAIT / 2, "a1");
        let first = read_first(soon, label, std::future::pending()).await;
        assert!(matches!(first, First::Answer("a1")));
    }

    /// A stream that ends before any answer comes back at once, with
    /// what it held.
    #[tokio::test]
    async fn stream_ending_early_replays() {
        tokio::time::pause();
        let start = Instant::now();
        let ended = Box::pin(stream::iter(["q1", "q2"])) as Labels;
        let replay = replayed(read_first(ended, label, std::future::pending()).await);
        assert_eq!(start.elapsed(), Duration::ZERO);
        assert_eq!(replay.into_stream().collect::<Vec<_>>().await, ["q1", "q2"]);
    }

    /// The caller's stop (rmcp's shutdown) ends the read before the
    /// wait, the stream handed back with what was read.
    #[tokio::test]
    async fn stop_replays() {
        tokio::time::pause();
        let start = Instant::now();
        let stop = sleep(JSON_ANSWER_WAIT / 4);
        let replay = replayed(read_first(then_silence(&["q1"]), label, stop).await);
        assert!((JSON_ANSWER_WAIT / 4..JSON_ANSWER_WAIT).contains(&start.elapsed()));
        assert_eq!(replay.read, ["q1"]);
    }
}
