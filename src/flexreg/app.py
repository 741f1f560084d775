"""The app factory: wires settings, database, error rendering and every domain's controllers."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar, Request, Router
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import auth, metrics, pagination
from core.auth import Principal
from core.conditional import Precondition, precondition_of
from core.crypto import FieldCipher
from core.db import create_engine, create_sessionmaker, transaction
from core.deps import DbSession
from core.errors import EXCEPTION_HANDLERS
from core.http_guard import make_strict_body_hook, no_store_by_default
from core.idempotency import IdempotencyMiddleware, complete_in, remember_response
from core.openapi import close_request_schemas, document_operations, operation_id_from_name
from core.openapi_components import CORE_ENUMS, add_examples, name_enums, name_generic_components
from core.openapi_text import describe_request_text
from core.rate_limits import rate_limit_guard, rate_limit_problems
from core.request_log import HEADER as REQUEST_ID_HEADER
from core.request_log import RequestLogMiddleware
from core.security_headers import make_security_headers
from core.settings import Settings
from flexreg import console, docs, ops
from flexreg.limits import RATE_LIMITED
from permits.api import CONTROLLERS as PERMITS_CONTROLLERS
from permits.api import NAMED_ENUMS as PERMITS_ENUMS
from permits.api import examples as permits_examples
from permits.api import refine_openapi as refine_permits_openapi
from permits.calendars import CalendarSource
from permits.document_readers import ReviewingDepartments
from permits.road_flow import RoadPermitFlow
from registry import sessions
from registry.api import CONTROLLERS as REGISTRY_CONTROLLERS
from registry.api import NAMED_ENUMS as REGISTRY_ENUMS
from registry.api import examples as registry_examples
from registry.api import refine_openapi as refine_registry_openapi
from venues import designated
from venues.api import CONTROLLERS as VENUES_CONTROLLERS
from venues.api import NAMED_ENUMS as VENUES_ENUMS
from venues.api import examples as venues_examples
from venues.api import refine_openapi as refine_venues_openapi
from venues.road import PermitFlow


async def provide_session(request: Request[Any, Any, Any], state: State) -> AsyncIterator[AsyncSession]:
    """One session per request: committed after the handler returns, rolled back if anything raised.

    Its first statement is the check a guard left for it (core.auth): the caller's sign-in still holds.
    Then, before the commit, the request's Idempotency-Key (if any) is completed with the response in this same
    transaction (core.idempotency): a crash keeps both the business write and the stored result, or neither.
    """
    async with transaction(state.sessionmaker) as session:
        await auth.check_pending(request, session)
        yield session
        held = await complete_in(session, request.scope)
    if held is not None:
        held.completed = True


# The principal providers take the session: they check the sign-in on it (core.auth), and chained after it they
# resolve one after the other; Litestar resolves independent dependencies of one handler concurrently in an
# anyio task group, which cost about a fifth of a write request here (measured with py-spy under make bench).
async def provide_principal(request: Request[Any, Any, Any], session: DbSession) -> Principal:
    return await auth.live_principal(request, session)


async def provide_precondition(request: Request[Any, Any, Any]) -> Precondition:
    return precondition_of(request.headers)


async def provide_optional_principal(request: Request[Any, Any, Any], session: DbSession) -> Principal | None:
    return await auth.live_optional_principal(request, session)


def cors_config(settings: Settings) -> CORSConfig | None:
    """CORS for a browser console on another origin, only when FLEXREG_CORS_ORIGINS names some.

    Bearer tokens, not cookies, authenticate: credentials are never allowed cross-origin.
    """
    if not settings.http.cors_origins:
        return None
    return CORSConfig(
        allow_origins=list(settings.http.cors_origins),
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "If-Match"],
        expose_headers=["Location", "ETag", "Retry-After", "Idempotent-Replayed", REQUEST_ID_HEADER],
        allow_credentials=False,
        max_age=600,
    )


def application_state(
    settings: Settings,
    *,
    sessionmaker: async_sessionmaker[AsyncSession] | None = None,
    permit_flow: PermitFlow | None = None,
) -> State:
    """What an app holds between requests: its collaborators, and what it caches per process.

    The test suite builds one app and hands each test a fresh state (`app.state = application_state(...)`):
    building an app costs about half a second (routing and the OpenAPI document), its state next to nothing.
    """
    calendars = CalendarSource()
    state: dict[str, Any] = {
        "settings": settings,
        "cipher": FieldCipher(settings.data.data_key),
        # Where road-occupancy requests that need a permit go (venues.road.PermitFlow): the one-stop application.
        "permit_flow": permit_flow or RoadPermitFlow(settings, calendars=calendars),
        "calendars": calendars,
        # Who reads documents beyond the registry's own rules (registry.documents.DocumentReaders): the
        # departments reviewing an application that cites them.
        "document_readers": ReviewingDepartments(),
        # Whether a token's sign-in still holds, asked on every authenticated request (core.auth).
        "session_check": sessions.is_live,
    }
    if sessionmaker is not None:
        # Tests hand in sessions bound to their rolled-back connection; the app then owns no engine.
        state["sessionmaker"] = sessionmaker
    return State(state)


def create_app(
    settings: Settings | None = None,
    *,
    sessionmaker: async_sessionmaker[AsyncSession] | None = None,
    permit_flow: PermitFlow | None = None,
) -> Litestar:
    settings = settings or Settings.from_env()
    pagination.configure(settings.auth.secret_key)

    @asynccontextmanager
    async def database(app: Litestar) -> AsyncIterator[None]:
        engine = create_engine(settings)
        app.state.sessionmaker = create_sessionmaker(engine)
        # What is built by now (routes, mappers, catalogues, caches) lives as long as the worker: frozen out of the
        # collector's reach, a full collection walks only what requests allocate. Under `make load` a worker's
        # full collections paused its event loop for 150–205 ms, every request in flight with it; frozen: 40–50 ms.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            await designated.close_index(app.state)  # its reading connection goes back before the engine goes
            await engine.dispose()
            gc.unfreeze()  # a process that outlives the app (a test run) gets its collector back

    state = application_state(settings, sessionmaker=sessionmaker, permit_flow=permit_flow)
    app = Litestar(
        route_handlers=[
            Router(path="/api/v1", route_handlers=[*REGISTRY_CONTROLLERS, *VENUES_CONTROLLERS, *PERMITS_CONTROLLERS]),
            docs.assets_router(),
            docs.to_docs,
            *console.route_handlers(),
            *ops.ROUTE_HANDLERS,
        ],
        template_config=console.template_config(),
        dependencies={
            "session": Provide(provide_session),
            "principal": Provide(provide_principal),
            "maybe_principal": Provide(provide_optional_principal),
            "precondition": Provide(provide_precondition),
        },
        lifespan=[] if sessionmaker is not None else [database],
        state=state,
        middleware=[IdempotencyMiddleware],
        # Before every route's own guards: a flood is refused before it costs a token check or a body read.
        guards=[rate_limit_guard(RATE_LIMITED)],
        before_request=make_strict_body_hook(settings.http.max_json_depth),
        after_request=remember_response,
        before_send=[
            no_store_by_default,
            make_security_headers(docs.CONTENT_SECURITY_POLICY),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        request_max_body_size=settings.http.max_body_bytes,
        multipart_form_part_limit=settings.http.max_multipart_parts,
        cors_config=cors_config(settings),
        # The service logs through the standard logging module as configured by its entry point (flexreg serve);
        # Litestar's default would reconfigure the root logger in every worker.
        logging_config=None,
        openapi_config=OpenAPIConfig(
            title="flexreg",
            version="1.0.0",
            description="Flexible-employment registry: who, where and when, may they.",
            path=docs.DOCS_PATH,
            render_plugins=[docs.render_plugin()],
            operation_id_creator=operation_id_from_name,
            components=Components(
                security_schemes={"bearer": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT")}
            ),
        ),
        debug=False,
    )
    schema = app.openapi_schema
    document_operations(app, rate_limit_problems(RATE_LIMITED))
    name_generic_components(schema)
    refine_registry_openapi(schema)
    refine_venues_openapi(schema)
    refine_permits_openapi(schema)
    name_enums(schema, {**CORE_ENUMS, **REGISTRY_ENUMS, **VENUES_ENUMS, **PERMITS_ENUMS})
    add_examples(schema, [*registry_examples(), *venues_examples(), *permits_examples()])
    close_request_schemas(schema)
    describe_request_text(schema, app)
    # Outside routing, error rendering and CORS: unrouted requests and every problem get an id and a log line.
    app.asgi_handler = RequestLogMiddleware(app.asgi_handler, observe=metrics.observe_request)
    return app
