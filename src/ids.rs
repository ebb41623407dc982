//! Typed ids for the boundaries between modules: a function that takes a ticket and a
//! webhook cannot be called with the two swapped. Inside a module, and in diesel rows,
//! ids stay `i64`; they become typed where they cross into another module.

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// A ticket's internal id (not its display id such as `IN164`).
    TicketId
);
id_type!(
    /// A webhook definition's id.
    WebhookId
);
id_type!(
    /// A remote application connection's id.
    ConnectionId
);
id_type!(
    /// A delivery's id (its `webhook-id` header is the `uid`, not this).
    DeliveryId
);
id_type!(
    /// A user's id.
    UserId
);
