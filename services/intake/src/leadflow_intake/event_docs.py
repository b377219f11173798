"""The public event contract as a web page: ``GET /docs/events`` (next to FastAPI's ``/docs``).

The page is rendered here, server-side, from the combined AsyncAPI document
(``leadflow_contracts.asyncapi.public_document()``, committed as ``deploy/asyncapi/public.yaml``):
channels, messages, Kafka key and headers, and every payload schema as an HTML table. No
JavaScript, no CDN, nothing fetched from the internet. The raw document is at
``/docs/events.json`` and ``/docs/events.yaml``.
"""

from __future__ import annotations

import json
from functools import lru_cache
from html import escape
from typing import Any

import yaml
from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response
from leadflow_contracts.asyncapi import channel_rows, public_document

_SCHEMAS = "#/components/schemas/"

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:72rem;
padding:0 1rem;color:#1b1f24;line-height:1.45}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem}
th,td{border:1px solid #d0d7de;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}code{background:#f6f8fa;padding:0 .2rem;border-radius:3px}
.send{color:#0a6c2c;font-weight:600}.receive{color:#0550ae;font-weight:600}.muted{color:#57606a}
h2{border-bottom:1px solid #d0d7de;padding-bottom:.2rem;margin-top:2rem}
"""


def _code(text: Any) -> str:
    return f"<code>{escape(str(text))}</code>"


def _plain(text: str) -> str:
    """Docstring prose without reStructuredText literals and hard line breaks."""
    return " ".join(text.replace("``", "").split())


def _link(name: str) -> str:
    return f'<a href="#schema-{escape(name)}">{escape(name)}</a>'


def type_html(schema: dict[str, Any]) -> str:
    """A property's type in words, with links to named schemas."""
    if "$ref" in schema:
        return _link(str(schema["$ref"]).removeprefix(_SCHEMAS))
    for key in ("anyOf", "oneOf"):
        if key in schema:
            parts = [type_html(s) for s in schema[key]]
            return " | ".join(parts)
    if "allOf" in schema and len(schema["allOf"]) == 1:
        return type_html(schema["allOf"][0])
    kind = schema.get("type")
    if kind == "array":
        items = schema.get("items")
        return f"array of {type_html(items)}" if isinstance(items, dict) and items else "array"
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return f"object of {type_html(schema['additionalProperties'])}"
    text = escape(str(kind)) if kind else "any"
    if "enum" in schema:
        text += ": one of " + ", ".join(_code(json.dumps(v)) for v in schema["enum"])
    if "format" in schema:
        text += f" ({escape(str(schema['format']))})"
    if "const" in schema:
        text += f" = {_code(json.dumps(schema['const']))}"
    return text


_CONSTRAINTS = (
    ("minLength", "min length"),
    ("maxLength", "max length"),
    ("minimum", "≥"),
    ("exclusiveMinimum", ">"),
    ("maximum", "≤"),
    ("exclusiveMaximum", "<"),
    ("pattern", "pattern"),
)


def _constraints(schema: dict[str, Any]) -> str:
    parts = []
    for node in [schema, *schema.get("anyOf", [])]:
        for key, label in _CONSTRAINTS:
            if key in node:
                parts.append(f"{label} {_code(node[key])}")
    if "default" in schema:
        parts.append(f"default {_code(json.dumps(schema['default']))}")
    return ", ".join(parts)


def schema_table(name: str, schema: dict[str, Any]) -> str:
    head = f'<h3 id="schema-{escape(name)}">{escape(name)}</h3>'
    description = f"<p>{escape(_plain(schema['description']))}</p>" if schema.get("description") else ""
    if "enum" in schema:
        values = "".join(f"<li>{_code(v)}</li>" for v in schema["enum"])
        return f"{head}{description}<p>One of:</p><ul>{values}</ul>"
    props: dict[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", []))
    rows = "".join(
        "<tr>"
        f"<td>{_code(field)}</td><td>{type_html(prop)}</td>"
        f"<td>{'<strong>yes</strong>' if field in required else 'no'}</td>"
        f"<td>{escape(str(prop.get('description', '')))}</td><td>{_constraints(prop)}</td>"
        "</tr>"
        for field, prop in props.items()
    )
    table = (
        "<table><thead><tr><th>field</th><th>type</th><th>required</th><th>description</th>"
        f"<th>constraints / default</th></tr></thead><tbody>{rows}</tbody></table>"
    )
    return f"{head}{description}{table}"


def render_html(doc: dict[str, Any]) -> str:
    """The whole page for an AsyncAPI 3 document (any document with channels/messages/schemas)."""
    info = doc.get("info", {})
    title = escape(str(info.get("title", "events")))
    servers = "".join(
        f"<tr><td>{escape(name)}</td><td>{_code(s.get('host', ''))}</td><td>{escape(str(s.get('protocol', '')))}</td>"
        f"<td>{escape(str(s.get('description', '')))}</td></tr>"
        for name, s in sorted(doc.get("servers", {}).items())
    )
    channel_table = "".join(
        f"<tr><td>{_code(r['address'])}</td>"
        f"<td>{' '.join(f'<span class={escape(a)}>{escape(a)}</span>' for a in r['actions'])}</td>"
        f"<td>{_link(r['schema']) if r['schema'] else escape(r['message'])}</td>"
        f"<td>{escape(r['description'])}</td></tr>"
        for r in channel_rows(doc)
    )
    messages = []
    for name, message in sorted(doc.get("components", {}).get("messages", {}).items()):
        kafka = message.get("bindings", {}).get("kafka", {})
        key = kafka.get("key", {})
        headers = message.get("headers", {}).get("properties", {})
        header_rows = "".join(
            f"<tr><td>{_code(h)}</td><td>{type_html(s)}</td><td>{escape(str(s.get('description', '')))}</td></tr>"
            for h, s in sorted(headers.items())
        )
        payload = str(message.get("payload", {}).get("$ref", "")).removeprefix(_SCHEMAS)
        content_type = message.get("contentType", doc.get("defaultContentType", ""))
        messages.append(
            f'<h3 id="message-{escape(name)}">{escape(name)}</h3>'
            f"<p>{escape(str(message.get('summary', '')))}</p>"
            "<table><tbody>"
            f"<tr><th>content type</th><td>{_code(content_type)}</td></tr>"
            f"<tr><th>Kafka key</th><td>{type_html(key) if key else 'none'}"
            f" — {escape(str(key.get('description', '')))}</td></tr>"
            f"<tr><th>payload</th><td>{_link(payload) if payload else 'unspecified'}</td></tr>"
            "</tbody></table>"
            + (
                "<table><thead><tr><th>header</th><th>type</th><th>description</th></tr></thead>"
                f"<tbody>{header_rows}</tbody></table>"
                if header_rows
                else ""
            )
        )
    schemas = "".join(
        schema_table(name, schema) for name, schema in sorted(doc.get("components", {}).get("schemas", {}).items())
    )
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width, initial-scale=1">'
        f"<title>{title}</title><style>{_CSS}</style></head><body>"
        f"<h1>{title} <span class=muted>v{escape(str(info.get('version', '')))}</span></h1>"
        f"<p>{escape(str(info.get('description', '')))}</p>"
        '<p>Raw AsyncAPI document: <a href="/docs/events.json">JSON</a> · <a href="/docs/events.yaml">YAML</a>'
        ' · HTTP API (<code>POST /v1/leads</code>): <a href="/docs">/docs</a>'
        " · field-by-field guide for publishers: <code>services/intake/docs/publishing.md</code> in the repository</p>"
        f"<h2>Servers</h2><table><thead><tr><th>name</th><th>host</th><th>protocol</th><th>description</th></tr>"
        f"</thead><tbody>{servers}</tbody></table>"
        "<h2>Channels</h2><table><thead><tr><th>topic</th><th>you</th><th>message</th><th>description</th></tr>"
        f"</thead><tbody>{channel_table}</tbody></table>"
        f"<h2>Messages</h2>{''.join(messages)}"
        f"<h2>Schemas</h2>{schemas}"
        "</body></html>"
    )


@lru_cache(maxsize=1)
def _rendered() -> tuple[str, str, str]:
    doc = public_document()
    return (
        render_html(doc),
        json.dumps(doc, indent=2, sort_keys=True),
        yaml.safe_dump(doc, sort_keys=True, allow_unicode=True, width=100),
    )


def build_docs_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/docs/events", response_class=HTMLResponse)
    async def events_page() -> HTMLResponse:
        return HTMLResponse(_rendered()[0])

    @router.get("/docs/events.json")
    async def events_json() -> Response:
        return Response(_rendered()[1], media_type="application/json")

    @router.get("/docs/events.yaml")
    async def events_yaml() -> Response:
        return Response(_rendered()[2], media_type="application/yaml")

    return router
