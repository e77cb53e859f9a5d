"""SMPP 3.4 PDUs: the header, the bodies we use, TLVs. Both directions.

Both directions because the same codec serves the ESME adapter and the SMSC
simulator. Only the PDUs an alerting ESME needs: binds, submit_sm and
deliver_sm (one layout), their responses, enquire_link, unbind, generic_nack.
"""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass, field
from enum import IntEnum

HEADER = struct.Struct(">IIII")
HEADER_LENGTH = HEADER.size
RESPONSE_BIT = 0x80000000
MAX_PDU_LENGTH = 64 * 1024  # far above any legal PDU; a bigger length means a broken stream
INTERFACE_VERSION = 0x34


class Command(IntEnum):
    """command_id values (telecom.md §3.2)."""

    GENERIC_NACK = 0x80000000
    BIND_RECEIVER = 0x01
    BIND_TRANSMITTER = 0x02
    SUBMIT_SM = 0x04
    DELIVER_SM = 0x05
    UNBIND = 0x06
    BIND_TRANSCEIVER = 0x09
    ENQUIRE_LINK = 0x15
    DATA_SM = 0x103


class Status(IntEnum):
    """command_status values we act on (SMPP 3.4 §5.1.3)."""

    OK = 0x00
    INVALID_MESSAGE_LENGTH = 0x01
    INVALID_COMMAND_ID = 0x03
    INCORRECT_BIND_STATUS = 0x04
    ALREADY_BOUND = 0x05
    SYSTEM_ERROR = 0x08
    INVALID_SOURCE_ADDRESS = 0x0A
    INVALID_DEST_ADDRESS = 0x0B
    BIND_FAILED = 0x0D
    INVALID_PASSWORD = 0x0E
    INVALID_SYSTEM_ID = 0x0F
    MESSAGE_QUEUE_FULL = 0x14
    SUBMIT_FAILED = 0x45
    THROTTLED = 0x58


class PduError(ValueError):
    """Bytes that are not a well-formed PDU: the stream cannot be trusted any more."""


def response_id(command_id: int) -> int:
    """The command_id of the response to `command_id`."""
    return command_id | RESPONSE_BIT


@dataclass(frozen=True, slots=True)
class Pdu:
    """One PDU: header fields and the raw body (decode it with the body classes)."""

    command_id: int
    status: int
    sequence: int
    body: bytes = b""

    @property
    def is_response(self) -> bool:
        return bool(self.command_id & RESPONSE_BIT)

    def encode(self) -> bytes:
        length = HEADER_LENGTH + len(self.body)
        return HEADER.pack(length, self.command_id, self.status, self.sequence) + self.body


async def read_pdu(reader: asyncio.StreamReader) -> Pdu:
    """Read exactly one PDU from the stream.

    Raises:
        asyncio.IncompleteReadError: the peer closed the connection.
        PduError: the length field is impossible.
    """
    header = await reader.readexactly(HEADER_LENGTH)
    length, command_id, status, sequence = HEADER.unpack(header)
    if not HEADER_LENGTH <= length <= MAX_PDU_LENGTH:
        raise PduError(f"impossible command_length {length}")
    body = await reader.readexactly(length - HEADER_LENGTH)
    return Pdu(command_id, status, sequence, body)


def cstring(value: str | bytes) -> bytes:
    """A C-Octet String: the ASCII octets and a terminating NUL."""
    raw = value.encode("ascii") if isinstance(value, str) else value
    if b"\x00" in raw:
        raise PduError(f"NUL inside a C-Octet String: {raw!r}")
    return raw + b"\x00"


def encode_tlvs(tlvs: tuple[tuple[int, bytes], ...]) -> bytes:
    return b"".join(struct.pack(">HH", tag, len(value)) + value for tag, value in tlvs)


class BodyReader:
    """Sequential reads over a PDU body; every read checks the bounds."""

    def __init__(self, body: bytes) -> None:
        self._body = body
        self._offset = 0

    def u8(self) -> int:
        return self.octets(1)[0]

    def octets(self, count: int) -> bytes:
        end = self._offset + count
        if end > len(self._body):
            raise PduError(f"body ends at {len(self._body)}, wanted {end}")
        value, self._offset = self._body[self._offset : end], end
        return value

    def cstring(self) -> str:
        end = self._body.find(b"\x00", self._offset)
        if end < 0:
            raise PduError("unterminated C-Octet String")
        value, self._offset = self._body[self._offset : end], end + 1
        return value.decode("latin-1")

    def at_end(self) -> bool:
        return self._offset >= len(self._body)

    def tlvs(self) -> tuple[tuple[int, bytes], ...]:
        found = []
        while not self.at_end():
            tag, length = struct.unpack(">HH", self.octets(4))
            found.append((tag, self.octets(length)))
        return tuple(found)


@dataclass(frozen=True, slots=True)
class BindBody:
    """bind_transmitter / bind_receiver / bind_transceiver."""

    system_id: str
    password: str
    system_type: str = ""
    interface_version: int = INTERFACE_VERSION
    addr_ton: int = 0
    addr_npi: int = 0
    address_range: str = ""

    def encode(self) -> bytes:
        return (
            cstring(self.system_id)
            + cstring(self.password)
            + cstring(self.system_type)
            + bytes((self.interface_version, self.addr_ton, self.addr_npi))
            + cstring(self.address_range)
        )

    @classmethod
    def decode(cls, body: bytes) -> BindBody:
        r = BodyReader(body)
        return cls(r.cstring(), r.cstring(), r.cstring(), r.u8(), r.u8(), r.u8(), r.cstring())


def encode_id_body(identifier: str) -> bytes:
    """Body of bind_*_resp (system_id) and submit_sm_resp / deliver_sm_resp (message_id)."""
    return cstring(identifier)


def decode_id_body(body: bytes) -> str:
    """The id of a *_resp body; empty when the peer sent no body (common on errors)."""
    return BodyReader(body).cstring() if body else ""


@dataclass(frozen=True, slots=True)
class MessageBody:
    """submit_sm and deliver_sm: the same mandatory fields, then TLVs.

    Defaults are those of an alerting ESME: international destination (1/1),
    no scheduling, SMSC default alphabet.
    """

    source_addr: str
    destination_addr: str
    short_message: bytes
    service_type: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    dest_addr_ton: int = 1
    dest_addr_npi: int = 1
    esm_class: int = 0
    protocol_id: int = 0
    priority_flag: int = 0
    schedule_delivery_time: str = ""
    validity_period: str = ""
    registered_delivery: int = 0
    replace_if_present_flag: int = 0
    data_coding: int = 0
    sm_default_msg_id: int = 0
    tlvs: tuple[tuple[int, bytes], ...] = field(default=())

    def encode(self) -> bytes:
        """Raises PduError: short_message above 254 octets (use the message_payload TLV)."""
        if len(self.short_message) > 254:
            raise PduError(f"short_message of {len(self.short_message)} octets (max 254)")
        return b"".join(
            (
                cstring(self.service_type),
                bytes((self.source_addr_ton, self.source_addr_npi)),
                cstring(self.source_addr),
                bytes((self.dest_addr_ton, self.dest_addr_npi)),
                cstring(self.destination_addr),
                bytes((self.esm_class, self.protocol_id, self.priority_flag)),
                cstring(self.schedule_delivery_time),
                cstring(self.validity_period),
                bytes((self.registered_delivery, self.replace_if_present_flag)),
                bytes((self.data_coding, self.sm_default_msg_id, len(self.short_message))),
                self.short_message,
                encode_tlvs(self.tlvs),
            )
        )

    @classmethod
    def decode(cls, body: bytes) -> MessageBody:
        """Raises PduError: truncated or malformed body."""
        r = BodyReader(body)
        service_type = r.cstring()
        source_ton, source_npi, source = r.u8(), r.u8(), r.cstring()
        dest_ton, dest_npi, dest = r.u8(), r.u8(), r.cstring()
        esm_class, protocol_id, priority = r.u8(), r.u8(), r.u8()
        schedule, validity = r.cstring(), r.cstring()
        registered, replace, coding, default_id = r.u8(), r.u8(), r.u8(), r.u8()
        short_message = r.octets(r.u8())
        return cls(
            source, dest, short_message, service_type, source_ton, source_npi, dest_ton,
            dest_npi, esm_class, protocol_id, priority, schedule, validity, registered,
            replace, coding, default_id, r.tlvs(),
        )  # fmt: skip

    def tlv(self, tag: int) -> bytes | None:
        """The value of the first TLV with `tag`, if any."""
        return next((value for found, value in self.tlvs if found == tag), None)
