//! The delivery engine's queue side: the transactional outbox ([`queue`]), claiming with
//! leases ([`claim`]), attempt records ([`records`]) and batching ([`batching`]).

pub mod batching;
pub mod claim;
pub mod queue;
pub mod records;

pub use queue::{Delivery, DeliveryId, NewDelivery, RequestSnapshot, Status, Trigger, Waker, enqueue};
