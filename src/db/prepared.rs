//! Hand-written SQL that diesel keeps prepared, for the few hot statements its query
//! builder cannot express (the claim's lateral seeks, batch updates over arrays).
//!
//! Why: diesel never caches a `sql_query`, nor any `UPDATE` it builds. PostgreSQL then
//! parses and plans the statement again on every call: the claim's planning alone cost
//! about a millisecond of the database's CPU per claim. A [`Stmt`] is identified by a
//! marker type that owns its SQL text ([`Sql::TEXT`]), so diesel files it under that type:
//! prepared once per connection, planned by PostgreSQL's plan cache, and looked up
//! without building its SQL text again.
//!
//! Rules:
//! 1. One marker type, one SQL text, one list of bind types: the text is an associated
//!    constant, and the bind types are part of the cache key ([`Stmt`]'s `QueryId`).
//! 2. `?` in the text is a bind and nothing else, in the order of the `bind` calls;
//!    diesel writes each as the backend's placeholder (`$n` or `?`).
//! 3. Only values go in binds; the text never varies (build a different marker instead).

use std::marker::PhantomData;

use diesel::backend::Backend;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::{HasSqlType, Untyped};
use diesel::{QueryResult, RunQueryDsl};

/// A statement's SQL text, owned by its marker type (rule 1).
pub trait Sql: 'static {
    const TEXT: &'static str;
}

/// A prepared statement with its binds so far. Build with [`Stmt::new`], add a value for
/// each `?` with [`Stmt::bind`], then run it with diesel's `load`/`execute`.
#[must_use = "a statement does nothing until it is run"]
pub struct Stmt<M, B = ()> {
    binds: B,
    _marker: PhantomData<fn() -> M>,
}

impl<M: Sql> Stmt<M, ()> {
    pub fn new() -> Self {
        Self {
            binds: (),
            _marker: PhantomData,
        }
    }
}

impl<M: Sql> Default for Stmt<M, ()> {
    fn default() -> Self {
        Self::new()
    }
}

impl<M: Sql, B> Stmt<M, B> {
    /// Binds the next `?` to `value`, of SQL type `ST`.
    pub fn bind<ST, T>(self, value: T) -> Stmt<M, Bound<B, ST, T>> {
        Stmt {
            binds: Bound {
                prev: self.binds,
                value,
                _type: PhantomData,
            },
            _marker: PhantomData,
        }
    }
}

/// The binds of a [`Stmt`]: the earlier ones, then one value of SQL type `ST`.
pub struct Bound<P, ST, T> {
    prev: P,
    value: T,
    _type: PhantomData<fn() -> ST>,
}

/// Pushes a statement's bind values in order.
pub trait Binds<DB: Backend> {
    /// How many binds.
    const COUNT: usize;
    fn push<'b>(&'b self, out: &mut Vec<&'b dyn PushOne<DB>>);
}

/// One bind value, pushed as its SQL type.
pub trait PushOne<DB: Backend> {
    fn push_one<'b>(&'b self, out: &mut AstPass<'_, 'b, DB>) -> QueryResult<()>;
}

impl<DB: Backend> Binds<DB> for () {
    const COUNT: usize = 0;
    fn push<'b>(&'b self, _: &mut Vec<&'b dyn PushOne<DB>>) {}
}

impl<DB, P, ST, T> Binds<DB> for Bound<P, ST, T>
where
    DB: Backend + HasSqlType<ST>,
    P: Binds<DB>,
    ST: 'static,
    T: ToSql<ST, DB>,
{
    const COUNT: usize = P::COUNT + 1;
    fn push<'b>(&'b self, out: &mut Vec<&'b dyn PushOne<DB>>) {
        self.prev.push(out);
        out.push(self);
    }
}

impl<DB, P, ST, T> PushOne<DB> for Bound<P, ST, T>
where
    DB: Backend + HasSqlType<ST>,
    T: ToSql<ST, DB>,
{
    fn push_one<'b>(&'b self, out: &mut AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_bind_param::<ST, T>(&self.value)
    }
}

impl<DB, M, B> QueryFragment<DB> for Stmt<M, B>
where
    DB: Backend,
    M: Sql,
    B: Binds<DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        let mut values = Vec::with_capacity(B::COUNT);
        self.binds.push(&mut values);
        let mut pieces = M::TEXT.split('?');
        if let Some(first) = pieces.next() {
            out.push_sql(first);
        }
        let mut values = values.into_iter();
        for piece in pieces {
            let Some(v) = values.next() else {
                return Err(diesel::result::Error::QueryBuilderError(
                    format!("{}: more `?` than binds", std::any::type_name::<M>()).into(),
                ));
            };
            v.push_one(&mut out)?;
            out.push_sql(piece);
        }
        if values.next().is_some() {
            return Err(diesel::result::Error::QueryBuilderError(
                format!("{}: more binds than `?`", std::any::type_name::<M>()).into(),
            ));
        }
        Ok(())
    }
}

/// The cache key: the marker and the bind types (rule 1).
impl<M: Sql, B: KeyOf> QueryId for Stmt<M, B> {
    type QueryId = (M, B::Key);
    const HAS_STATIC_QUERY_ID: bool = true;
}

/// The bind types of a bind list, as a `'static` type for the cache key.
pub trait KeyOf {
    type Key: 'static;
}

impl KeyOf for () {
    type Key = ();
}

impl<P: KeyOf, ST: 'static, T> KeyOf for Bound<P, ST, T> {
    type Key = (P::Key, ST);
}

impl<M, B> Query for Stmt<M, B> {
    type SqlType = Untyped;
}

impl<M, B, Conn> RunQueryDsl<Conn> for Stmt<M, B> {}
