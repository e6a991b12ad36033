from roost.wire.protocol import FrameBuffer, decode_request, encode_request
from roost.wire.records import ACL, CreateRequest, Id


def test_create_request_round_trip() -> None:
    rec = CreateRequest("/a", b"x", [ACL(31, Id("world", "anyone"))], 0)
    [body] = FrameBuffer().feed(encode_request(7, 1, rec))
    assert decode_request(body) == (7, 1, rec)
