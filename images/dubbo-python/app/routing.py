"""Dubbo's tag routing, as Java Dubbo's consumer does it without a dynamic rule.

The rules are those of apache/dubbo `TagStateRouter.filterUsingStaticTag`
(dubbo-cluster/src/main/java/org/apache/dubbo/rpc/cluster/router/tag/TagStateRouter.java):

* A provider's tag is its URL parameter `dubbo.tag` (CommonConstants.TAG_KEY), which Java
  sets from `-Ddubbo.provider.tag` / `DUBBO_PROVIDER_TAG` (AbstractInterfaceConfig.getTag).
* A request's tag is its invocation attachment `dubbo.tag`, else the consumer's own
  `dubbo.tag` (from `dubbo.consumer.tag`; here DUBBO_CONSUMER_TAG).
* A tagged request goes to the providers with that tag; when there are none, to the untagged
  ones, unless `dubbo.force.tag` (Constants.FORCE_USE_TAG) is true: then to none.
* An untagged request goes to untagged providers only, never to tagged ones.

Pure functions, unit-tested in test_routing.py; every caller in the image routes through
calls.py, which uses them.
"""

from dataclasses import dataclass
from typing import Iterable, List, Mapping, Optional, Sequence, Tuple

TAG_KEY = "dubbo.tag"
FORCE_TAG_KEY = "dubbo.force.tag"
# The gateway's HTTP header, as Dubbo's own Spring MVC interceptor reads it
# (CommonConstants.DUBBO_TAG_HEADER, DubboTagHeaderOrParameterInterceptor).
TAG_HEADER = "dubbo-tag"
FORCE_TAG_HEADER = "dubbo-force-tag"


@dataclass(frozen=True)
class RequestTag:
    """What a call asks for: a tag ("" for none) and whether it may fall back."""

    tag: str = ""
    force: bool = False

    def describe(self) -> str:
        if not self.tag:
            return "untagged"
        return f"tag {self.tag}" + (" (forced)" if self.force else "")

    def attachments(self) -> dict:
        """The invocation attachments carrying it, as Java sends them."""
        if not self.tag:
            return {}
        found = {TAG_KEY: self.tag}
        if self.force:
            found[FORCE_TAG_KEY] = "true"
        return found


def is_true(text: Optional[str]) -> bool:
    """Java's Boolean.parseBoolean: only "true", in any case, is true."""
    return (text or "").strip().lower() == "true"


def provider_tag(params: Mapping[str, str]) -> str:
    return (params.get(TAG_KEY) or "").strip()


def route(providers: Sequence, tag_of, request: RequestTag) -> List:
    """The providers a request may go to, in their order. `tag_of(provider)` is its tag."""
    if request.tag:
        matching = [p for p in providers if tag_of(p) == request.tag]
        if matching or request.force:
            return matching
    return [p for p in providers if not tag_of(p)]


def no_provider_message(interface: str, request: RequestTag, tags: Iterable[str]) -> str:
    """Why `route` found nothing, naming the interface, the tag and what is registered."""
    registered = sorted({t or "untagged" for t in tags})
    if not registered:
        return f"no provider of {interface} registered"
    present = ", ".join(registered)
    if request.tag and request.force:
        return (
            f"no provider of {interface} with tag {request.tag} "
            f"({FORCE_TAG_KEY}=true: no fallback to untagged providers; registered: {present})"
        )
    if request.tag:
        return (
            f"no provider of {interface} with tag {request.tag} and no untagged one to fall "
            f"back to (registered: {present})"
        )
    return (
        f"no untagged provider of {interface}: untagged requests never go to tagged "
        f"providers (registered: {present})"
    )


def gateway_request_tag(
    headers: Mapping[str, str], query: Mapping[str, Sequence[str]], env: Mapping[str, str]
) -> RequestTag:
    """The gateway's tag: the `dubbo-tag` header, else the `dubbo.tag` query parameter (both
    as Dubbo's interceptor reads them), else its own DUBBO_CONSUMER_TAG; force likewise from
    `dubbo-force-tag`, else DUBBO_FORCE_TAG."""
    tag = (headers.get(TAG_HEADER) or "").strip()
    if not tag:
        tag = (query.get(TAG_KEY, [""])[0] or "").strip()
    if not tag:
        tag = env.get("DUBBO_CONSUMER_TAG", "").strip()
    force_header = headers.get(FORCE_TAG_HEADER)
    force = is_true(force_header) if force_header is not None else is_true(env.get("DUBBO_FORCE_TAG"))
    return RequestTag(tag, force)


def propagated_request_tag(incoming: Mapping[str, str], env: Mapping[str, str]) -> RequestTag:
    """The tag of a provider's own downstream call: the tag of the request it is serving
    (what the Java filters in docs/dubbo.md keep and restore), else its DUBBO_CONSUMER_TAG.
    `dubbo.force.tag` is not passed on (Java's ContextFilter drops it, as it does the tag);
    the provider's own DUBBO_FORCE_TAG applies."""
    tag = (incoming.get(TAG_KEY) or "").strip() or env.get("DUBBO_CONSUMER_TAG", "").strip()
    return RequestTag(tag, is_true(env.get("DUBBO_FORCE_TAG")))


def split_interfaces(text: Optional[str]) -> Tuple[str, ...]:
    """DUBBO_DOWNSTREAM: comma-separated interfaces, blanks ignored."""
    return tuple(part.strip() for part in (text or "").split(",") if part.strip())
