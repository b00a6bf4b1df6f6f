//! Live delivery to open streams: new messages to StreamMessages calls, new notifications
//! to StreamNotifications calls, by one mechanism.
//!
//! Each replica keeps a [`Hub`] per kind of item: the open streams of this process, by user.
//! An item is handed to the streams of the users it concerns only (a message's sender and
//! recipient, a notification's owner), so fan-out costs the streams it reaches, not every
//! stream open. On SQLite (one process) the writer publishes after its commit. On PostgreSQL
//! every replica LISTENs on one connection to both channels and the writing transaction
//! NOTIFYs, so an item reaches the streams of every replica, this one included, once
//! committed — whichever replica wrote it (a notification is written by the one replica that
//! holds the board feed's lease).

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use campus_shared::Result;
use futures::Stream;
use sqlx::postgres::PgListener;
use tokio::sync::{mpsc, watch};

use crate::domain;
use crate::store::messages::{self, NOTIFY_CHANNEL, Notification};
use crate::store::notifications::NOTIFICATION_CHANNEL;
use crate::store::{Database, MessageEvent, MessageRow, NotificationRow};

/// Items a stream may fall behind by before it is closed; a client that cannot keep up
/// reconnects and catches up with ListMessages (or ListNotifications) rather than making the
/// server buffer forever.
const STREAM_BUFFER: usize = 256;

type Subscribers<T> = HashMap<i64, Vec<(u64, mpsc::Sender<Arc<T>>)>>;

/// The streams each user holds open in this process, both kinds together, and the cap on
/// them: each holds a buffer of [`STREAM_BUFFER`] items, so the cap bounds the memory one
/// account can pin however many connections and addresses it uses. The count is per
/// replica: behind a load balancer one user may hold the cap on each replica.
#[derive(Debug)]
pub(crate) struct StreamSlots {
    max_per_user: usize,
    taken: Mutex<HashMap<i64, usize>>,
}

impl StreamSlots {
    pub(crate) fn new(max_per_user: usize) -> Arc<Self> {
        Arc::new(Self { max_per_user, taken: Mutex::new(HashMap::new()) })
    }

    fn taken(&self) -> MutexGuard<'_, HashMap<i64, usize>> {
        // Every change is one counter update, so a poisoned lock is still consistent.
        self.taken.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// One more stream of `user_id`, or the refusal of [`domain::admit_stream`].
    fn take(self: &Arc<Self>, user_id: i64) -> Result<Slot> {
        let mut taken = self.taken();
        let open = taken.entry(user_id).or_default();
        domain::admit_stream(*open, self.max_per_user)?;
        *open += 1;
        Ok(Slot { user_id, slots: self.clone() })
    }
}

/// A stream's place in its user's count, given back when the stream is dropped: when it
/// ended (shutdown, or closed for falling behind) and tonic let go of it, or when the client
/// went away.
#[derive(Debug)]
struct Slot {
    user_id: i64,
    slots: Arc<StreamSlots>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut taken = self.slots.taken();
        if let Some(open) = taken.get_mut(&self.user_id) {
            *open -= 1;
            if *open == 0 {
                taken.remove(&self.user_id);
            }
        }
    }
}

#[derive(Debug)]
struct State<T> {
    closed: bool,
    next_id: u64,
    streams: Subscribers<T>,
}

/// The open streams of this process, by user, for items of type `T`.
#[derive(Debug)]
pub(crate) struct Hub<T> {
    state: Mutex<State<T>>,
    closed: watch::Sender<bool>,
    slots: Arc<StreamSlots>,
}

impl<T> Hub<T> {
    /// A hub whose streams count against `slots` (shared with the other kind's hub).
    pub(crate) fn new(slots: Arc<StreamSlots>) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(State { closed: false, next_id: 0, streams: HashMap::new() }),
            closed: watch::channel(false).0,
            slots,
        })
    }

    fn state(&self) -> MutexGuard<'_, State<T>> {
        // A panic while holding the lock cannot leave the map inconsistent (every change is
        // one insert or remove), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Opens a stream of the items concerning `user_id`, unless they hold as many open as
    /// [`StreamSlots`] allows. After [`Hub::close`] the stream is already finished.
    pub(crate) fn subscribe(self: &Arc<Self>, user_id: i64) -> Result<LiveStream<T>> {
        let slot = self.slots.take(user_id)?;
        let (tx, rx) = mpsc::channel(STREAM_BUFFER);
        let mut state = self.state();
        state.next_id += 1;
        let id = state.next_id;
        if !state.closed {
            state.streams.entry(user_id).or_default().push((id, tx));
        }
        Ok(LiveStream { user_id, id, rx, hub: self.clone(), _slot: slot })
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
    fn watches(&self, users: &[i64]) -> bool {
        let state = self.state();
        users.iter().any(|u| state.streams.contains_key(u))
    }

    /// Hands `item` to every open stream of each of `users` (each user once).
    pub(crate) fn publish(&self, users: &[i64], item: Arc<T>) {
        let mut state = self.state();
        for (i, user) in users.iter().enumerate() {
            if users[..i].contains(user) {
                continue;
            }
            let Some(list) = state.streams.get_mut(user) else { continue };
            // A full buffer means a stalled client: dropping its sender ends its stream.
            list.retain(|(_, tx)| tx.try_send(item.clone()).is_ok());
            if list.is_empty() {
                state.streams.remove(user);
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

impl Hub<MessageRow> {
    /// Hands a new message to every open stream of its sender and recipient.
    pub(crate) fn publish_message(&self, event: &MessageEvent) {
        let users = [event.message.sender_id, event.recipient_id];
        self.publish(&users, Arc::new(event.message.clone()));
    }
}

impl Hub<NotificationRow> {
    /// Hands a new notification to every open stream of its owner.
    pub(crate) fn publish_notification(&self, notification: NotificationRow) {
        let users = [notification.user_id];
        self.publish(&users, Arc::new(notification));
    }
}

/// The hubs of one process: messages and notifications.
#[derive(Debug, Clone)]
pub(crate) struct Hubs {
    pub(crate) messages: Arc<Hub<MessageRow>>,
    pub(crate) notifications: Arc<Hub<NotificationRow>>,
}

impl Hubs {
    /// Both hubs, with at most `max_streams_per_user` streams of one user open in this
    /// process across the two.
    pub(crate) fn new(max_streams_per_user: usize) -> Self {
        let slots = StreamSlots::new(max_streams_per_user);
        Self { messages: Hub::new(slots.clone()), notifications: Hub::new(slots) }
    }

    /// Ends every stream of both kinds and refuses new ones.
    pub(crate) fn close(&self) {
        self.messages.close();
        self.notifications.close();
    }

    /// Resolves once [`Hubs::close`] was called.
    async fn closed(&self) {
        self.messages.closed().await;
    }

    /// How many streams of either kind are open in this process.
    pub(crate) fn open_streams(&self) -> usize {
        self.messages.open_streams() + self.notifications.open_streams()
    }
}

/// One StreamMessages or StreamNotifications call: the items concerning its user, as stored
/// (the handler words them for that user). Dropping it (the stream ended, or the client went
/// away) unregisters it and gives its slot back.
#[derive(Debug)]
pub(crate) struct LiveStream<T> {
    user_id: i64,
    id: u64,
    rx: mpsc::Receiver<Arc<T>>,
    hub: Arc<Hub<T>>,
    _slot: Slot,
}

impl<T> Stream for LiveStream<T> {
    type Item = Arc<T>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx)
    }
}

impl<T> Drop for LiveStream<T> {
    fn drop(&mut self) {
        self.hub.unsubscribe(self.user_id, self.id);
    }
}

/// LISTENs for new messages and notifications on PostgreSQL and fans them out to this
/// replica's streams until the hubs close. The first connection is made before returning, so
/// a stream opened after start-up misses nothing; later connection losses are retried (items
/// announced while disconnected are not streamed, as NOTIFY does not queue them: clients
/// catch up with ListMessages and ListNotifications).
pub(crate) async fn listen(url: &str, hubs: Hubs, database: Database) -> Result<(), sqlx::Error> {
    let mut listener = PgListener::connect(url).await?;
    listener.listen_all([NOTIFY_CHANNEL, NOTIFICATION_CHANNEL]).await?;
    tokio::spawn(async move {
        loop {
            let next = tokio::select! {
                () = hubs.closed() => break,
                next = listener.recv() => next,
            };
            match next {
                Ok(notification) if notification.channel() == NOTIFICATION_CHANNEL => {
                    deliver_notification(&hubs.notifications, notification.payload())
                }
                Ok(notification) => deliver(&hubs.messages, &database, notification.payload()),
                Err(error) => {
                    // recv() reconnects on its next call; wait a little so a database that
                    // is down is not hammered.
                    tracing::warn!(%error, "stream listener lost its connection, reconnecting");
                    tokio::select! {
                        () = hubs.closed() => break,
                        () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                }
            }
        }
    });
    Ok(())
}

fn deliver_notification(hub: &Arc<Hub<NotificationRow>>, payload: &str) {
    match serde_json::from_str::<NotificationRow>(payload) {
        Ok(notification) => {
            if hub.watches(&[notification.user_id]) {
                hub.publish_notification(notification);
            }
        }
        Err(error) => tracing::warn!(%error, "ignoring a malformed notification announcement"),
    }
}

fn deliver(hub: &Arc<Hub<MessageRow>>, database: &Database, payload: &str) {
    let notification: Notification = match serde_json::from_str(payload) {
        Ok(n) => n,
        Err(error) => {
            tracing::warn!(%error, "ignoring a malformed message notification");
            return;
        }
    };
    if !hub.watches(&[notification.sender_id, notification.recipient_id]) {
        return;
    }
    let recipient_id = notification.recipient_id;
    match notification.content {
        Some(content) => hub.publish_message(&MessageEvent {
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
            let (hub, database, id) = (hub.clone(), database.clone(), notification.id);
            tokio::spawn(async move {
                let message = match database.conn().await {
                    Ok(mut conn) => messages::get(&mut conn, id).await,
                    Err(error) => Err(error),
                };
                match message {
                    Ok(Some(message)) => hub.publish_message(&MessageEvent { message, recipient_id }),
                    Ok(None) => {}
                    Err(error) => tracing::warn!(%error, "could not read a notified message"),
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use campus_shared::Error;
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
        let hub = Hub::<MessageRow>::new(StreamSlots::new(8));
        let mut alice = hub.subscribe(1).unwrap();
        let mut bob = hub.subscribe(2).unwrap();
        let mut carol = hub.subscribe(3).unwrap();
        hub.publish_message(&event(1, 2));
        let mine = alice.next().await.unwrap();
        let theirs = bob.next().await.unwrap();
        assert_eq!(mine.sender_id, 1);
        assert_eq!(mine.id, theirs.id);
        hub.close();
        assert!(carol.next().await.is_none(), "carol got nothing and her stream ended on close");
    }

    #[tokio::test]
    async fn dropped_streams_unregister() {
        let hub = Hub::<MessageRow>::new(StreamSlots::new(8));
        let a = hub.subscribe(1).unwrap();
        let _b = hub.subscribe(1).unwrap();
        assert_eq!(hub.open_streams(), 2);
        drop(a);
        assert_eq!(hub.open_streams(), 1);
        hub.close();
        assert_eq!(hub.open_streams(), 0);
        let mut late = hub.subscribe(1).unwrap();
        assert!(late.next().await.is_none());
    }

    #[tokio::test]
    async fn a_stalled_stream_is_closed_instead_of_buffering_forever() {
        let hub = Hub::<MessageRow>::new(StreamSlots::new(8));
        let mut stalled = hub.subscribe(1).unwrap();
        for _ in 0..=STREAM_BUFFER {
            hub.publish_message(&event(2, 1));
        }
        assert_eq!(hub.open_streams(), 0);
        let mut received = 0;
        while stalled.next().await.is_some() {
            received += 1;
        }
        assert_eq!(received, STREAM_BUFFER);
    }

    #[test]
    fn a_user_holds_at_most_the_cap_across_both_kinds() {
        let hubs = Hubs::new(2);
        let message_stream = hubs.messages.subscribe(1).unwrap();
        let _notification_stream = hubs.notifications.subscribe(1).unwrap();
        for refused in [hubs.messages.subscribe(1).map(drop), hubs.notifications.subscribe(1).map(drop)] {
            let err = refused.unwrap_err();
            assert!(
                matches!(err, Error::ResourceExhausted { reason: domain::TOO_MANY_STREAMS, .. }),
                "{err:?}"
            );
        }
        let _someone_else = hubs.messages.subscribe(2).expect("the cap is per user");
        drop(message_stream);
        let _again = hubs.notifications.subscribe(1).expect("a dropped stream gives its slot back");
    }

    #[tokio::test]
    async fn a_notification_reaches_only_its_owners_streams() {
        let hub = Hub::<NotificationRow>::new(StreamSlots::new(8));
        let (mut mine, mut my_phone, mut theirs) =
            (hub.subscribe(1).unwrap(), hub.subscribe(1).unwrap(), hub.subscribe(2).unwrap());
        let row = NotificationRow {
            id: 9,
            user_id: 1,
            kind: 1,
            post_id: 2,
            comment_id: 3,
            board_id: 4,
            board_name: "자유게시판".into(),
            preview: "hi".into(),
            read: false,
            created_at: 5,
        };
        hub.publish_notification(row.clone());
        assert_eq!(*mine.next().await.unwrap(), row);
        assert_eq!(my_phone.next().await.unwrap().id, 9);
        hub.close();
        assert!(theirs.next().await.is_none(), "another user's stream got nothing");
    }
}
