//! One typed declaration per tool: [`Tool`] names it once, with its
//! argument and output types, its description and annotations; the
//! `tools/list` entry and the call are derived from it, so the schema a
//! client reads is the type the tool parses, and arguments are parsed in
//! one place with one error shape.
//!
//! A tool file declares its tool with [`tool!`](crate::tool) (name, title,
//! argument and output types, annotations, description, body) and a
//! server's tool table is a list of [`ToolEntry`] values, one line per tool
//! (`ToolEntry::blocking::<WriteFile>()`).
//!
//! # Must never
//! - run a call itself: it only says how ([`Call`]); the handler runs every
//!   call in one place (panic isolation, blocking pool, deadline).

use std::{any::TypeId, future::Future, sync::Arc};

pub use rmcp::model::ToolAnnotations;
use rmcp::model::{JsonObject, Tool as Definition};
use schemars::JsonSchema;
use serde::{Serialize, de::DeserializeOwned};

use crate::{
    error::ToolError,
    runtime::toolbox::{Call, CallContext, ToolFuture, ToolOutput, parse_arguments},
};

/// The `Output` of a tool that returns no `structuredContent` (an image,
/// say): its definition has no `outputSchema`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Unstructured;

/// A tool, declared once. `S` is what it runs against (the server's state).
pub trait Tool<S>: 'static {
    /// The MCP name.
    const NAME: &'static str;
    /// The human title.
    const TITLE: &'static str;
    /// What the tool does and when to use it, for the model.
    const DESCRIPTION: &'static str;
    /// The arguments; their schema is the `inputSchema`.
    type Args: DeserializeOwned + JsonSchema + Send + 'static;
    /// The `structuredContent`; its schema is the `outputSchema`
    /// ([`Unstructured`]: none). Build the result with [`structured`].
    type Output: Serialize + JsonSchema + 'static;

    /// The behaviour hints (MCP 2025-11-25 schema `ToolAnnotations`).
    fn annotations() -> ToolAnnotations;

    /// The `tools/list` entry, derived from the declaration.
    fn definition() -> Definition {
        let mut tool = Definition::new(
            Self::NAME,
            Self::DESCRIPTION,
            rmcp::handler::server::common::schema_for_type::<Self::Args>(),
        );
        tool.title = Some(Self::TITLE.to_string());
        tool.annotations = Some(Self::annotations());
        if TypeId::of::<Self::Output>() != TypeId::of::<Unstructured>() {
            let mut schema =
                (*rmcp::handler::server::common::schema_for_type::<Self::Output>()).clone();
            // The wrapper type's name is noise to the model (rmcp strips it
            // from the schemas its own macros derive, too).
            schema.remove("title");
            tool.output_schema = Some(Arc::new(schema));
        }
        tool
    }
}

/// A result whose `structuredContent` is `output` (a tool's `Output`, so
/// it matches the `outputSchema` by construction) and whose text is `text`.
pub fn structured<O: Serialize>(text: impl Into<String>, output: &O) -> ToolOutput {
    // A derived `Serialize` of plain fields and string keys cannot fail;
    // were it to, the text still carries the result.
    let value = serde_json::to_value(output).unwrap_or_default();
    ToolOutput::with_structured(text, value)
}

/// A tool whose body blocks (synchronous filesystem work): the runtime runs
/// it on the blocking pool.
pub trait BlockingTool<S>: Tool<S> {
    /// Run the tool on parsed arguments.
    fn run(server: &S, args: Self::Args, context: &CallContext) -> Result<ToolOutput, ToolError>;
}

/// A tool whose body is async (network work): the runtime spawns it.
pub trait AsyncTool<S: Send + Sync + 'static>: Tool<S> {
    /// Run the tool on parsed arguments.
    fn run(
        server: Arc<S>,
        args: Self::Args,
        context: CallContext,
    ) -> impl Future<Output = Result<ToolOutput, ToolError>> + Send;
}

/// A blocking tool's body, arguments still unparsed.
pub type BlockingBody<S> = fn(&S, JsonObject, &CallContext) -> Result<ToolOutput, ToolError>;

/// An async tool's body, arguments still unparsed.
pub type AsyncBody<S> = fn(Arc<S>, JsonObject, CallContext) -> ToolFuture;

/// How a tool's body runs.
pub enum Body<S> {
    /// On the blocking pool.
    Blocking(BlockingBody<S>),
    /// Spawned on the runtime.
    Async(AsyncBody<S>),
}

/// One line of a server's tool table: a tool's name, definition and body,
/// erased from its types.
pub struct ToolEntry<S> {
    /// MCP name.
    pub name: &'static str,
    /// Builds the `tools/list` entry.
    pub definition: fn() -> Definition,
    /// Runs a call.
    pub body: Body<S>,
}

impl<S: Send + Sync + 'static> ToolEntry<S> {
    /// The entry of a blocking tool.
    pub fn blocking<T: BlockingTool<S>>() -> Self {
        Self {
            name: T::NAME,
            definition: T::definition,
            body: Body::Blocking(|server, arguments, context| {
                T::run(server, parse_arguments(arguments)?, context)
            }),
        }
    }

    /// The entry of an async tool.
    pub fn asynchronous<T: AsyncTool<S>>() -> Self {
        Self {
            name: T::NAME,
            definition: T::definition,
            body: Body::Async(|server, arguments, context| {
                Box::pin(async move { T::run(server, parse_arguments(arguments)?, context).await })
            }),
        }
    }

    /// The call of this tool on `server`.
    pub fn call(&self, server: Arc<S>, arguments: JsonObject, context: CallContext) -> Call {
        match self.body {
            Body::Blocking(run) => {
                Call::Blocking(Box::new(move || run(&server, arguments, &context)))
            }
            Body::Async(run) => Call::Async(run(server, arguments, context)),
        }
    }
}

/// Declares a tool: its type, and its [`Tool`] and [`BlockingTool`] or
/// [`AsyncTool`] impls, from one short block, so a tool file holds only its
/// arguments, output, description and `run`.
///
/// ```ignore
/// moat_shared::tool! {
///     /// The `create_directory` tool.
///     pub CreateDirectory: Tool<FsServer> = "create_directory", "Create directory";
///     (Args) -> Structured, super::writes(false, true), DESCRIPTION;
///     blocking |server, args, context| run(server, &args, context)
/// }
/// ```
///
/// The line after the name gives the argument and output types, the
/// annotations and the description; the last line says how the body runs
/// (`blocking`: on the blocking pool, with `server: &S`, `args: Args`,
/// `context: &CallContext`; `async`: spawned, with `server: Arc<S>`,
/// `args: Args`, `context: CallContext`, and may `.await`).
#[macro_export]
macro_rules! tool {
    (
        $(#[$meta:meta])*
        $vis:vis $name:ident: Tool<$state:ty> = $mcp_name:literal, $title:literal;
        ($args:ty) -> $output:ty, $annotations:expr, $description:expr;
        $($body:tt)*
    ) => {
        $(#[$meta])*
        $vis struct $name;

        impl $crate::runtime::tool::Tool<$state> for $name {
            const NAME: &'static str = $mcp_name;
            const TITLE: &'static str = $title;
            const DESCRIPTION: &'static str = $description;
            type Args = $args;
            type Output = $output;

            fn annotations() -> $crate::runtime::tool::ToolAnnotations {
                $annotations
            }
        }

        $crate::tool!(@body $name, $state, $args; $($body)*);
    };
    (@body $name:ident, $state:ty, $args:ty;
        blocking |$server:ident, $arguments:ident, $context:ident| $run:expr) => {
        impl $crate::runtime::tool::BlockingTool<$state> for $name {
            fn run(
                $server: &$state,
                $arguments: $args,
                $context: &$crate::CallContext,
            ) -> Result<$crate::ToolOutput, $crate::ToolError> {
                $run
            }
        }
    };
    (@body $name:ident, $state:ty, $args:ty;
        async |$server:ident, $arguments:ident, $context:ident| $run:expr) => {
        impl $crate::runtime::tool::AsyncTool<$state> for $name {
            async fn run(
                $server: ::std::sync::Arc<$state>,
                $arguments: $args,
                $context: $crate::CallContext,
            ) -> Result<$crate::ToolOutput, $crate::ToolError> {
                $run
            }
        }
    };
}
