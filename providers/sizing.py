"""Width and height for backends that take free pixel sizes (Pollinations, A1111, ComfyUI).

The request carries either `width`/`height` or an aspect ratio such as ``"16:9"``; latent-diffusion backends
need multiples of 8 (their UIs use 64), so sizes are rounded rather than sent as typed.
"""

from __future__ import annotations

from providers.base import ImageRequest, InvalidRequest


def round_to(value: float, multiple: int) -> int:
    return max(multiple, int(round(value / multiple)) * multiple)


def size_for(request: ImageRequest, *, long_side: int = 1024, multiple: int = 8,
             ratio_multiple: int = 64) -> tuple[int, int] | None:
    """The pixel size to send, or None when the request names none (the backend's default then applies).

    Explicit sizes are only rounded to `multiple`; an aspect ratio gives `long_side` on its longer edge and
    the other edge rounded to `ratio_multiple`.
    """
    if request.width and request.height:
        return round_to(request.width, multiple), round_to(request.height, multiple)
    if request.aspect_ratio:
        try:
            a, b = (float(part) for part in request.aspect_ratio.split(":", 1))
        except ValueError:
            raise InvalidRequest(f"not an aspect ratio: {request.aspect_ratio!r}",
                                 provider=request.provider) from None
        if a <= 0 or b <= 0:
            raise InvalidRequest(f"not an aspect ratio: {request.aspect_ratio!r}", provider=request.provider)
        if a >= b:
            return long_side, round_to(long_side * b / a, ratio_multiple)
        return round_to(long_side * a / b, ratio_multiple), long_side
    return None
