"""A DDS participant on a chosen domain and network interface, and a reader that keeps the latest sample."""

from __future__ import annotations

import threading
import time
from typing import Any

from cyclonedds.core import DDSException, Listener
from cyclonedds.domain import Domain, DomainParticipant
from cyclonedds.pub import DataWriter
from cyclonedds.sub import DataReader, InvalidSample
from cyclonedds.topic import Topic

REAL_DOMAIN = 0  # the domain a real Unitree robot publishes on


def participant(domain_id: int, interface: str) -> tuple[Domain, DomainParticipant]:
    """(domain, participant) on ``domain_id`` bound to network ``interface`` (``lo`` for a simulated robot).

    The domain object carries the interface setting: keep it alive as long as the participant.
    """
    config = (
        "<CycloneDDS><Domain><General><Interfaces>"
        f'<NetworkInterface name="{interface}" priority="default" multicast="default"/>'
        "</Interfaces></General></Domain></CycloneDDS>"
    )
    domain = Domain(domain_id, config)
    return domain, DomainParticipant(domain_id)


class Latest(Listener):
    """Keeps the newest sample of a topic that passes ``accept`` and the local time it arrived."""

    def __init__(self, accept: Any = None) -> None:  # noqa: ANN401 - a callable(sample) -> bool
        """``accept(sample)``: False drops a sample (counted in ``rejected``)."""
        super().__init__()
        self._lock = threading.Lock()
        self.sample: Any = None
        self.received_at: float | None = None  # time.perf_counter() seconds
        self.count = 0
        self.rejected = 0
        self._accept = accept

    def on_data_available(self, reader: DataReader) -> None:
        """Take every waiting sample; keep the newest accepted one.

        A reader deleted under this callback at process exit raises "bad parameter": nothing is left to take then.
        """
        try:
            samples = reader.take(N=64)
        except DDSException:
            return
        for sample in samples:
            if isinstance(sample, InvalidSample):  # a writer went away: no data
                continue
            if self._accept is not None and not self._accept(sample):
                self.rejected += 1
                continue
            with self._lock:
                self.sample, self.received_at = sample, time.perf_counter()
                self.count += 1

    def get(self) -> tuple[Any, float | None]:
        """(newest sample or None, its local arrival time)."""
        with self._lock:
            return self.sample, self.received_at


def endpoints(
    dp: DomainParticipant, sub_topic: str, sub_type: type, pub_topic: str, pub_type: type, accept: Any = None
):  # noqa: ANN001, ANN201
    """(writer on ``pub_topic``, reader on ``sub_topic``, its :class:`Latest`)."""
    latest = Latest(accept)
    reader = DataReader(dp, Topic(dp, sub_topic, sub_type), listener=latest)
    writer = DataWriter(dp, Topic(dp, pub_topic, pub_type))
    return writer, reader, latest
