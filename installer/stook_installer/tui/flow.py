"""The order of the wizard's pages and which of them the answers skip.

The only place that knows the page order: the app asks it what follows or precedes a page, and
a page asks it (through its Context) which step it is. Pages know nothing of each other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from stook_installer.tui.cluster import ServerPage, VipPage
from stook_installer.tui.disks import DisksPage
from stook_installer.tui.fields import DnsPage, HostnamePage, NtpPage, ProxyPage, TokenPage
from stook_installer.tui.login import PasswordPage, SshKeysPage
from stook_installer.tui.network import NetworkPage
from stook_installer.tui.page import Context, Page, Remote
from stook_installer.tui.start import ModePage, RolePage
from stook_installer.tui.state import Wizard
from stook_installer.tui.summary import SummaryPage


def always(_wizard: Wizard) -> bool:
    return True


def creating(wizard: Wizard) -> bool:
    return wizard.mode == "create"


def joining(wizard: Wizard) -> bool:
    return wizard.mode == "join"


@dataclass(frozen=True)
class Stop:
    """A page of the flow, asked only when *when* holds for the answers so far."""

    page: type[Page]
    when: Callable[[Wizard], bool] = always


STOPS: tuple[Stop, ...] = (
    Stop(ModePage),
    Stop(RolePage, joining),  # creating makes the first node: its role is the default
    Stop(DisksPage),
    Stop(NetworkPage),
    Stop(HostnamePage),
    Stop(DnsPage),
    Stop(VipPage, creating),  # a new cluster needs its address
    Stop(TokenPage),  # before the server: its CA hash is how the server's check trusts it
    Stop(ServerPage, joining),  # joining needs the address of one that exists
    Stop(NtpPage),
    Stop(ProxyPage),
    Stop(SshKeysPage),
    Stop(PasswordPage),
    Stop(SummaryPage),
)
FIRST = STOPS[0].page


class Flow:
    """Next, back and skip for the answers in *wizard*, and the pages built with a Context."""

    def __init__(self, wizard: Wizard, remote: Remote) -> None:
        self.wizard = wizard
        self.context = Context(wizard, remote, self.position)

    def pages(self) -> list[type[Page]]:
        return [stop.page for stop in STOPS if stop.when(self.wizard)]

    def position(self, page: type[Page]) -> tuple[int, int]:
        """(step number, number of steps) of *page*; 0 when the answers skip it."""
        pages = self.pages()
        return (pages.index(page) + 1 if page in pages else 0), len(pages)

    def make(self, page: type[Page]) -> Page:
        return page(self.context)

    def after(self, page: type[Page]) -> type[Page] | None:
        pages = self.pages()
        index = pages.index(page) if page in pages else -1
        return pages[index + 1] if index + 1 < len(pages) else None

    def before(self, page: type[Page]) -> type[Page] | None:
        pages = self.pages()
        index = pages.index(page) if page in pages else len(pages)
        return pages[index - 1] if index > 0 else None
