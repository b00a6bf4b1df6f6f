//! Live delivery of new messages to open StreamMessages calls.
//!
//! Each replica keeps a [`Hub`]: the open streams of this process, by user. A new message is
//! handed to the streams of its sender and its recipient only, so fan-out costs the streams it
//! reaches, not every stream open. On SQLite (one process) the handler publishes after its
//! commit. On PostgreSQL every replica LISTENs on one channel and the writing transaction
//! NOTIFYs it, so a message reaches the streams of every replica, this one included, once
//! committed.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use sqlx::postgres::PgListener;
use tokio::sync::{mpsc, watch};

use crate::store::{self, MessageEvent, MessageRow, NOTIFY_CHANNEL, Notification, Store};

/// Messages a stream may fall behind by before it is closed; a client that cannot keep up
/// reconnects and catches up with ListMessages rather than making the server buffer forever.
const STREAM_BUFFER: usize = 256;

type Subscribers = HashMap<i64, Vec<(u64, mpsc::Sender<Arc<MessageRow>>)>>;

#[derive(Debug, Default)]
struct State {
    closed: bool,
    next_id: u64,
    streams: Subscribers,
}

/// The open streams of this process, by user.
#[derive(Debug)]
pub(crate) struct Hub {
    state: Mutex<State>,
    closed: watch::Sender<bool>,
}

impl Hub {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self { state: Mutex::new(State::default()), closed: watch::channel(false).0 })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the map inconsistent (every change is
        // one insert or remove), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Opens a stream of the messages to and from `user_id`. After [`Hub::close`] the stream
    /// is already finished.
    pub(crate) fn subscribe(self: &Arc<Self>, user_id: i64) -> MessageStream {
        let (tx, rx) = mpsc::channel(STREAM_BUFFER);
        let mut state = self.state();
        state.next_id += 1;
        let id = state.next_id;
        if !state.closed {
            state.streams.entry(user_id).or_default().push((id, tx));
        }
        MessageStream { user_id, id, rx, hub: self.clone() }
    }

    fn unsubscribe(&self, user_id: i64, id: u64) {
        let mut state = self.state();
        if let Some(list) = state.streams.get_mut(&user_id) {
            list.retain(|(sid, _)| *sid != id);
            if list.is_empty() {
                state.streams.remove(&user_id);
            }
        }
    }

    /// Whether any stream of these users is open here.
    fn watches(&self, users: [i64; 2]) -> bool {
        let state = self.state();
        users.iter().any(|u| state.streams.contains_key(u))
    }

    /// Hands a new message to every open stream of its sender and recipient.
    pub(crate) fn publish(&self, event: &MessageEvent) {
        let message = Arc::new(event.message.clone());
        let mut state = self.state();
        let mut users = vec![event.message.sender_id];
        if event.recipient_id != event.message.sender_id {
            users.push(event.recipient_id);
        }
        for user in users {
            let Some(list) = state.streams.get_mut(&user) else { continue };
            // A full buffer means a stalled client: dropping its sender ends its stream.
            list.retain(|(_, tx)| tx.try_send(message.clone()).is_ok());
            if list.is_empty() {
                state.streams.remove(&user);
            }
        }
    }

    /// Ends every open stream and refuses new ones (shutdown), so connections can drain.
    pub(crate) fn close(&self) {
        let mut state = self.state();
        state.closed = true;
        state.streams.clear();
        drop(state);
        self.closed.send_replace(true);
    }

    /// Resolves once [`Hub::close`] was called.
    pub(crate) async fn closed(&self) {
        let mut rx = self.closed.subscribe();
        let _ = rx.wait_for(|closed| *closed).await;
    }

    /// How many streams are open in this process.
    pub(crate) fn open_streams(&self) -> usize {
        self.state().streams.values().map(Vec::len).sum()
    }
}

/// One StreamMessages call: the messages to and from its user, as stored (the handler
/// words them for that user). Dropping it (the client went away) unregisters it.
#[derive(Debug)]
pub(crate) struct MessageStream {
    user_id: i64,
    id: u64,
    rx: mpsc::Receiver<Arc<MessageRow>>,
    hub: Arc<Hub>,
}

impl Stream for MessageStream {
    type Item = Arc<MessageRow>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx)
    }
}

impl Drop for MessageStream {
    fn drop(&mut self) {
        self.hub.unsubscribe(self.user_id, self.id);
    }
}

/// LISTENs for new messages on PostgreSQL and fans them out to this replica's streams until
/// the hub closes. The first connection is made before returning, so a stream opened after
/// start-up misses nothing; later connection losses are retried (notifications sent while
/// disconnected are lost, as NOTIFY does not queue them: clients catch up with ListMessages).
pub(crate) async fn listen(url: &str, hub: Arc<Hub>, store: Store) -> Result<(), sqlx::Error> {
    let mut listener = PgListener::connect(url).await?;
    listener.listen(NOTIFY_CHANNEL).await?;
    tokio::spawn(async move {
        loop {
            let next = tokio::select! {
                () = hub.closed() => break,
                next = listener.recv() => next,
            };
            match next {
                Ok(notification) => deliver(&hub, &store, notification.payload()),
                Err(error) => {
                    // recv() reconnects on its next call; wait a little so a database that
                    // is down is not hammered.
                    tracing::warn!(%error, "message listener lost its connection, reconnecting");
                    tokio::select! {
                        () = hub.closed() => break,
                        () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                }
            }
        }
    });
    Ok(())
}

fn deliver(hub: &Arc<Hub>, store: &Store, payload: &str) {
    let notification: Notification = match serde_json::from_str(payload) {
        Ok(n) => n,
        Err(error) => {
            tracing::warn!(%error, "ignoring a malformed message notification");
            return;
        }
    };
    if !hub.watches([notification.sender_id, notification.recipient_id]) {
        return;
    }
    let recipient_id = notification.recipient_id;
    match notification.content {
        Some(content) => hub.publish(&MessageEvent {
            message: MessageRow {
                id: notification.id,
                conversation_id: notification.conversation_id,
                sender_id: notification.sender_id,
                content,
                created_at: notification.created_at,
            },
            recipient_id,
        }),
        None => {
            // Too large to travel in the payload: read it back without holding up the listener.
            let (hub, store, id) = (hub.clone(), store.clone(), notification.id);
            tokio::spawn(async move {
                match store::message(&store, id).await {
                    Ok(Some(message)) => hub.publish(&MessageEvent { message, recipient_id }),
                    Ok(None) => {}
                    Err(error) => tracing::warn!(%error, "could not read a notified message"),
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use futures::StreamExt;

    use super::*;

    fn event(sender: i64, recipient: i64) -> MessageEvent {
        MessageEvent {
            message: MessageRow {
                id: 1,
                conversation_id: 2,
                sender_id: sender,
                content: "hi".into(),
                created_at: 3,
            },
            recipient_id: recipient,
        }
    }

    #[tokio::test]
    async fn both_sides_get_the_message_and_nobody_else_does() {
        let hub = Hub::new();
        let mut alice = hub.subscribe(1);
        let mut bob = hub.subscribe(2);
        let mut carol = hub.subscribe(3);
        hub.publish(&event(1, 2));
        let mine = alice.next().await.unwrap();
        let theirs = bob.next().await.unwrap();
        assert_eq!(mine.sender_id, 1);
        assert_eq!(mine.id, theirs.id);
        hub.close();
        assert!(carol.next().await.is_none(), "carol got nothing and her stream ended on close");
    }

    #[tokio::test]
    async fn dropped_streams_unregister() {
        let hub = Hub::new();
        let a = hub.subscribe(1);
        let _b = hub.subscribe(1);
        assert_eq!(hub.open_streams(), 2);
        drop(a);
        assert_eq!(hub.open_streams(), 1);
        hub.close();
        assert_eq!(hub.open_streams(), 0);
        let mut late = hub.subscribe(1);
        assert!(late.next().await.is_none());
    }

    #[tokio::test]
    async fn a_stalled_stream_is_closed_instead_of_buffering_forever() {
        let hub = Hub::new();
        let mut stalled = hub.subscribe(1);
        for _ in 0..=STREAM_BUFFER {
            hub.publish(&event(2, 1));
        }
        assert_eq!(hub.open_streams(), 0);
        let mut received = 0;
        while stalled.next().await.is_some() {
            received += 1;
        }
        assert_eq!(received, STREAM_BUFFER);
    }
}
