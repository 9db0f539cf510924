//! One typed declaration per tool: [`Tool`] names it once, with its
//! argument and output types, its description and annotations; the
//! `tools/list` entry and the call are derived from it, so the schema a
//! client reads is the type the tool parses, and arguments are parsed in
//! one place with one error shape.
//!
//! A tool file declares its tool with [`tool!`](crate::tool) (name, title,
//! annotations, output struct; arguments, description and body by
//! convention) and a
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

/// Declares a tool from one short block: its type, its [`Tool`] and
/// [`BlockingTool`] or [`AsyncTool`] impls, and its `Output` struct, so a
/// tool file holds only its `Args`, `DESCRIPTION`, this block and `run`.
///
/// ```ignore
/// moat_shared::tool! {
///     /// The `create_directory` tool.
///     pub CreateDirectory: BlockingTool<FsServer> = "create_directory", "Create directory", super::writes(false, true) {
///         /// What happened, as in the text.
///         pub content: String,
///         /// False when the directory already existed.
///         pub created: bool,
///     }
/// }
/// ```
///
/// The one line (longer than rustfmt's width when it must: it stays one
/// line, so the block reads as a header) gives the type, how its body runs, the state it runs against,
/// the MCP name, the title and the annotations (a function call); the
/// braces hold the fields of `Output`, the `structuredContent`, which gets
/// `Debug`, `Serialize`, `JsonSchema` and the doc "`structuredContent` of
/// `name`." (its schema's description); inner attributes at the top of the
/// braces (`#![serde(rename_all = "camelCase")]`) go on the struct.
///
/// By convention the calling module holds `Args` (the arguments),
/// `DESCRIPTION` and `run`: a `BlockingTool` (run on the blocking pool)
/// calls `run(server: &S, args: &Args, context: &CallContext)`, an
/// `AsyncTool` (spawned, may `.await`) calls
/// `run(server: &S, args: Args, context: &CallContext).await`; `run`
/// returns `Result<ToolOutput, E>` with `E: Into<ToolError>`.
///
/// What differs from the convention follows the annotations: `args: T`
/// (another argument type); `output: T` (an output declared elsewhere,
/// such as [`Unstructured`]: then `;` ends the line instead of the braces)
/// and after it `description: "..."` (another description). A last
/// `|server, args, context| expression` replaces the call of `run`.
#[macro_export]
macro_rules! tool {
    // The output's fields in the block.
    (
        $(#[$meta:meta])*
        $vis:vis $name:ident: $kind:ident<$state:ty> = $mcp_name:literal, $title:literal,
            $($annotations:ident)::+ ($($annotation_args:tt)*) $(, args: $args:ty)? {
            $(#![$output_meta:meta])*
            $($(#[$field_meta:meta])* $field_vis:vis $field:ident: $field_type:ty),* $(,)?
        }
        $($body:tt)*
    ) => {
        #[doc = concat!("`structuredContent` of `", $mcp_name, "`.")]
        #[derive(Debug, ::serde::Serialize, ::schemars::JsonSchema)]
        $(#[$output_meta])*
        pub struct Output {
            $($(#[$field_meta])* $field_vis $field: $field_type,)*
        }

        $crate::tool!(@tool $(#[$meta])* $vis $name: $kind<$state> = $mcp_name, $title,
            $($annotations)::+($($annotation_args)*), [$($args)?], [Output], []; $($body)*);
    };
    // The output declared elsewhere.
    (
        $(#[$meta:meta])*
        $vis:vis $name:ident: $kind:ident<$state:ty> = $mcp_name:literal, $title:literal,
            $($annotations:ident)::+ ($($annotation_args:tt)*) $(, args: $args:ty)?,
            output: $output:ty $(, description: $description:literal)?;
        $($body:tt)*
    ) => {
        $crate::tool!(@tool $(#[$meta])* $vis $name: $kind<$state> = $mcp_name, $title,
            $($annotations)::+($($annotation_args)*), [$($args)?], [$output],
            [$($description)?]; $($body)*);
    };
    (@tool
        $(#[$meta:meta])*
        $vis:vis $name:ident: $kind:ident<$state:ty> = $mcp_name:literal, $title:literal,
            $annotations:expr, [$($args:tt)?], [$output:tt], [$($description:tt)?];
        $($body:tt)*
    ) => {
        $(#[$meta])*
        $vis struct $name;

        impl $crate::runtime::tool::Tool<$state> for $name {
            const NAME: &'static str = $mcp_name;
            const TITLE: &'static str = $title;
            const DESCRIPTION: &'static str = $crate::tool!(@or [$($description)?] DESCRIPTION);
            type Args = $crate::tool!(@or [$($args)?] Args);
            type Output = $output;

            fn annotations() -> $crate::runtime::tool::ToolAnnotations {
                $annotations
            }
        }

        $crate::tool!(@body $kind $name, $state; $($body)*);
    };
    (@or [] $default:tt) => { $default };
    (@or [$given:tt] $default:tt) => { $given };
    (@body BlockingTool $name:ident, $state:ty;) => {
        $crate::tool!(@body BlockingTool $name, $state;
            |server, args, context| run(server, &args, context));
    };
    (@body BlockingTool $name:ident, $state:ty;
        |$server:ident, $arguments:ident, $context:ident| $run:expr) => {
        impl $crate::runtime::tool::BlockingTool<$state> for $name {
            fn run(
                $server: &$state,
                $arguments: <Self as $crate::runtime::tool::Tool<$state>>::Args,
                $context: &$crate::CallContext,
            ) -> Result<$crate::ToolOutput, $crate::ToolError> {
                ($run).map_err(::core::convert::Into::into)
            }
        }
    };
    (@body AsyncTool $name:ident, $state:ty;) => {
        $crate::tool!(@body AsyncTool $name, $state;
            |server, args, context| run(&server, args, &context).await);
    };
    (@body AsyncTool $name:ident, $state:ty;
        |$server:ident, $arguments:ident, $context:ident| $run:expr) => {
        impl $crate::runtime::tool::AsyncTool<$state> for $name {
            async fn run(
                $server: ::std::sync::Arc<$state>,
                $arguments: <Self as $crate::runtime::tool::Tool<$state>>::Args,
                $context: $crate::CallContext,
            ) -> Result<$crate::ToolOutput, $crate::ToolError> {
                ($run).map_err(::core::convert::Into::into)
            }
        }
    };
}
