//! Weekly slots and conflict detection.
//!
//! Slots are half-open intervals `[start, end)` in minutes from midnight, so a lecture ending
//! at 10:15 and one starting at 10:15 do not collide.

use serde::{Deserialize, Serialize};

/// Minutes in a day; the latest a slot may end (24:00).
pub const MINUTES_PER_DAY: i64 = 24 * 60;
/// Slots start and end on 5-minute marks.
pub const GRANULARITY: i64 = 5;
/// The longest room name kept.
pub const MAX_ROOM_CHARS: usize = 30;

/// One weekly slot: day 1 (Monday) to 7 (Sunday), `[start, end)` in minutes, and a room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slot {
    #[serde(rename = "d")]
    pub day: i32,
    #[serde(rename = "s")]
    pub start: i32,
    #[serde(rename = "e")]
    pub end: i32,
    #[serde(rename = "r", default, skip_serializing_if = "String::is_empty")]
    pub room: String,
}

impl Slot {
    /// Same day and the intervals share at least one minute.
    pub fn overlaps(&self, other: &Slot) -> bool {
        self.day == other.day && self.start < other.end && other.start < self.end
    }

    /// What is wrong with the slot, if anything (the day is checked by the caller's parser).
    pub fn problem(&self) -> Option<String> {
        let (start, end) = (i64::from(self.start), i64::from(self.end));
        if !(1..=7).contains(&self.day) {
            return Some("day must be Monday to Sunday".into());
        }
        if !(0..MINUTES_PER_DAY).contains(&start) {
            return Some(format!("start {} is outside 00:00-23:55", clock(self.start)));
        }
        if !(0..=MINUTES_PER_DAY).contains(&end) {
            return Some(format!("end {} is outside 00:05-24:00", clock(self.end)));
        }
        if start % GRANULARITY != 0 || end % GRANULARITY != 0 {
            return Some(format!("{}-{} is not in 5-minute units", clock(self.start), clock(self.end)));
        }
        if end <= start {
            return Some(format!("end {} is not after start {}", clock(self.end), clock(self.start)));
        }
        if self.room.chars().count() > MAX_ROOM_CHARS {
            return Some(format!("room is longer than {MAX_ROOM_CHARS} characters"));
        }
        campus_shared::text::problem(&self.room, campus_shared::text::Text::Line).map(|p| format!("room {p}"))
    }
}

/// `HH:MM` of a minute of the day.
pub fn clock(minute: i32) -> String {
    format!("{:02}:{:02}", minute.div_euclid(60), minute.rem_euclid(60))
}

/// The English short name of a day (1 = Mon).
pub fn day_name(day: i32) -> &'static str {
    match day {
        1 => "Mon",
        2 => "Tue",
        3 => "Wed",
        4 => "Thu",
        5 => "Fri",
        6 => "Sat",
        7 => "Sun",
        _ => "?",
    }
}

/// The index of the first pair of a set's own slots that overlap, if any.
pub fn self_overlap(slots: &[Slot]) -> Option<(usize, usize)> {
    (0..slots.len())
        .find_map(|i| ((i + 1)..slots.len()).find(|&j| slots[i].overlaps(&slots[j])).map(|j| (i, j)))
}

/// What occupies part of a timetable's grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ItemKind {
    Lecture,
    CustomEntry,
}

impl ItemKind {
    /// The kind as named in error metadata.
    pub fn as_str(self) -> &'static str {
        match self {
            ItemKind::Lecture => "lecture",
            ItemKind::CustomEntry => "customEntry",
        }
    }
}

/// A lecture or custom entry in a timetable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub kind: ItemKind,
    pub id: i64,
    pub name: String,
    pub slots: Vec<Slot>,
}

/// A refused addition: which existing item it collides with, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    pub kind: ItemKind,
    pub id: i64,
    pub name: String,
    /// The existing item's slot that overlaps.
    pub slot: Slot,
}

impl Conflict {
    /// A sentence naming the item collided with, for the status message.
    pub fn message(&self) -> String {
        let what = match self.kind {
            ItemKind::Lecture => "lecture",
            ItemKind::CustomEntry => "entry",
        };
        format!(
            "collides with {what} \"{}\" on {} {}-{}",
            self.name,
            day_name(self.slot.day),
            clock(self.slot.start),
            clock(self.slot.end)
        )
    }
}

/// FAILED_PRECONDITION / TIME_CONFLICT naming the item collided with, in the message and in
/// the ErrorInfo metadata (`conflictingKind`, `conflictingId`, `conflictingName`, `day`,
/// `startMinute`, `endMinute`), so a client can highlight it.
impl From<Conflict> for campus_shared::Error {
    fn from(conflict: Conflict) -> Self {
        campus_shared::Error::failed_precondition("TIME_CONFLICT", conflict.message())
            .with_metadata("conflictingKind", conflict.kind.as_str())
            .with_metadata("conflictingId", conflict.id)
            .with_metadata("conflictingName", &conflict.name)
            .with_metadata("day", conflict.slot.day)
            .with_metadata("startMinute", conflict.slot.start)
            .with_metadata("endMinute", conflict.slot.end)
    }
}

/// The first item whose slots overlap any of `candidate`, in the items' order.
pub fn find_conflict(candidate: &[Slot], items: &[Item]) -> Option<Conflict> {
    items.iter().find_map(|item| {
        item.slots.iter().find(|slot| candidate.iter().any(|c| c.overlaps(slot))).map(|slot| Conflict {
            kind: item.kind,
            id: item.id,
            name: item.name.clone(),
            slot: slot.clone(),
        })
    })
}

/// The grid of one timetable: items that never overlap each other.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Schedule {
    items: Vec<Item>,
}

impl Schedule {
    /// A schedule of items already stored (trusted not to overlap).
    pub fn new(items: Vec<Item>) -> Self {
        Self { items }
    }

    pub fn items(&self) -> &[Item] {
        &self.items
    }

    /// Adds the item unless one of its slots collides with an item already there.
    pub fn try_add(&mut self, item: Item) -> Result<(), Conflict> {
        if let Some(conflict) = find_conflict(&item.slots, &self.items) {
            return Err(conflict);
        }
        self.items.push(item);
        Ok(())
    }

    /// Removes an item; false when it was not there.
    pub fn remove(&mut self, kind: ItemKind, id: i64) -> bool {
        let before = self.items.len();
        self.items.retain(|i| !(i.kind == kind && i.id == id));
        self.items.len() != before
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn slot(day: i32, start: i32, end: i32) -> Slot {
        Slot { day, start, end, room: String::new() }
    }

    fn lecture(id: i64, slots: Vec<Slot>) -> Item {
        Item { kind: ItemKind::Lecture, id, name: format!("L{id}"), slots }
    }

    #[test]
    fn touching_slots_do_not_collide() {
        assert!(!slot(1, 540, 615).overlaps(&slot(1, 615, 690)));
        assert!(slot(1, 540, 620).overlaps(&slot(1, 615, 690)));
        assert!(!slot(1, 540, 620).overlaps(&slot(2, 540, 620)));
    }

    #[test]
    fn conflicts_name_the_existing_item() {
        let items = vec![lecture(1, vec![slot(1, 540, 615)]), lecture(2, vec![slot(3, 600, 700)])];
        let conflict = find_conflict(&[slot(3, 650, 720)], &items).unwrap();
        assert_eq!(conflict.id, 2);
        assert_eq!(conflict.message(), "collides with lecture \"L2\" on Wed 10:00-11:40");
        assert_eq!(find_conflict(&[slot(1, 615, 700)], &items), None);
    }

    #[test]
    fn slot_problems() {
        assert_eq!(slot(1, 540, 615).problem(), None);
        assert!(slot(0, 540, 615).problem().is_some());
        assert!(slot(1, 541, 615).problem().unwrap().contains("5-minute"));
        assert!(slot(1, 615, 540).problem().unwrap().contains("not after"));
        assert!(slot(1, 1380, 1500).problem().unwrap().contains("outside"));
        assert_eq!(slot(7, 1380, 1440).problem(), None);
        assert_eq!(self_overlap(&[slot(1, 0, 60), slot(2, 0, 60), slot(1, 55, 70)]), Some((0, 2)));
    }

    fn arb_slot() -> impl Strategy<Value = Slot> {
        // A small grid (two days, coarse units) makes overlaps and touches frequent.
        (1..=2i32, 0..24i32, 1..6i32).prop_map(|(day, start, len)| slot(day, start * 5, (start + len) * 5))
    }

    fn brute_force_collides(candidate: &[Slot], items: &[Item]) -> bool {
        let mut taken = vec![[false; MINUTES_PER_DAY as usize]; 8];
        for s in items.iter().flat_map(|i| &i.slots) {
            for m in s.start..s.end {
                taken[s.day as usize][m as usize] = true;
            }
        }
        candidate.iter().any(|s| (s.start..s.end).any(|m| taken[s.day as usize][m as usize]))
    }

    proptest! {
        #[test]
        fn agrees_with_a_minute_by_minute_check(
            existing in prop::collection::vec(prop::collection::vec(arb_slot(), 1..4), 0..6),
            candidate in prop::collection::vec(arb_slot(), 1..4),
        ) {
            let items: Vec<Item> =
                existing.into_iter().enumerate().map(|(i, s)| lecture(i as i64, s)).collect();
            let found = find_conflict(&candidate, &items);
            prop_assert_eq!(found.is_some(), brute_force_collides(&candidate, &items));
            if let Some(c) = found {
                prop_assert!(candidate.iter().any(|s| s.overlaps(&c.slot)));
                prop_assert!(items.iter().any(|i| i.id == c.id && i.slots.contains(&c.slot)));
            }
        }

        #[test]
        fn adding_then_removing_restores_the_schedule(
            existing in prop::collection::vec(prop::collection::vec(arb_slot(), 1..3), 0..6),
            candidate in prop::collection::vec(arb_slot(), 1..3),
        ) {
            let mut schedule = Schedule::default();
            for (i, slots) in existing.into_iter().enumerate() {
                // Only items that fit stay, so the schedule keeps its no-overlap invariant.
                let _ = schedule.try_add(lecture(i as i64, slots));
            }
            let before = schedule.clone();
            match schedule.try_add(lecture(1000, candidate)) {
                Ok(()) => {
                    prop_assert!(schedule.remove(ItemKind::Lecture, 1000));
                    prop_assert_eq!(&schedule, &before);
                }
                Err(_) => prop_assert_eq!(&schedule, &before),
            }
            // No two items in a schedule ever overlap.
            let items = schedule.items();
            for (a, x) in items.iter().enumerate() {
                for y in &items[a + 1..] {
                    prop_assert!(find_conflict(&x.slots, std::slice::from_ref(y)).is_none());
                }
            }
        }
    }
}
