//! campus messaging service.
