//! campus's protobuf contracts: the generated messages, gRPC clients and servers of every
//! `campus.*.v1` package, and the encoded descriptor set that reflection and the gateway use.

#![allow(missing_debug_implementations, unreachable_pub, clippy::all)]

/// The encoded `FileDescriptorSet` of every campus proto and its imports.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/campus_descriptor.bin"));

/// Module nesting mirrors the proto packages, as the generated cross-package paths expect.
pub mod google {
    pub mod api {
        tonic::include_proto!("google.api");
    }
}

pub mod campus {
    pub mod auth {
        pub mod v1 {
            tonic::include_proto!("campus.auth.v1");
        }
    }
    pub mod account {
        pub mod v1 {
            tonic::include_proto!("campus.account.v1");
        }
    }
    pub mod board {
        pub mod v1 {
            tonic::include_proto!("campus.board.v1");
        }
    }
    pub mod messaging {
        pub mod v1 {
            tonic::include_proto!("campus.messaging.v1");
        }
    }
    pub mod events {
        pub mod v1 {
            tonic::include_proto!("campus.events.v1");
        }
    }
    pub mod timetable {
        pub mod v1 {
            tonic::include_proto!("campus.timetable.v1");
        }
    }
}

pub use campus::{account, auth, board, events, messaging, timetable};
