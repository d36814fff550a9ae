"""A local Realtime API server for tests, demos and offline development.

It speaks the GA Realtime protocol faithfully enough that unmodified third-party clients
(the official ``openai`` client, ``openai-agents``' realtime model) run whole
conversations against it, taking what they send as the service does: sessions,
conversation items, server VAD over real PCM, text and audio responses, function calls,
transcription and translation sessions, the service's error and close codes. Replies
come from a scriptable :data:`Brain`; faults (drops, stalls, malformed frames, close
codes, delays) are switchable.

```python
async with trio_realtime.testing.open_emulator() as emulator:
    client = openai.AsyncOpenAI(api_key="sk-test", websocket_base_url=emulator.url)
```
"""

from __future__ import annotations

from ._arguments import example_arguments as example_arguments
from ._brain import (
    Brain as Brain,
    BrainReply as BrainReply,
    BrainRequest as BrainRequest,
    default_brain as default_brain,
)
from ._calls import (
    CallerScript as CallerScript,
    CallState as CallState,
    EmulatedCall as EmulatedCall,
    HeardReply as HeardReply,
    WebhookDelivery as WebhookDelivery,
)
from ._connection import (
    ConnectionKind as ConnectionKind,
    ConnectionStatistics as ConnectionStatistics,
    EmulatorConnection as EmulatorConnection,
    TimelineEntry as TimelineEntry,
)
from ._faults import Faults as Faults
from ._retention import Retention as Retention
from ._server import (
    Emulator as Emulator,
    EmulatorStatistics as EmulatorStatistics,
    open_emulator as open_emulator,
    serve_emulator as serve_emulator,
)
from ._sip import (
    SimulatedCaller as SimulatedCaller,
    caller_voice as caller_voice,
    scripted_caller as scripted_caller,
)
from ._thread import (
    EmulatorThread as EmulatorThread,
    run_emulator_in_thread as run_emulator_in_thread,
)

__all__ = [
    "Brain",
    "BrainReply",
    "BrainRequest",
    "CallState",
    "CallerScript",
    "ConnectionKind",
    "ConnectionStatistics",
    "EmulatedCall",
    "Emulator",
    "EmulatorConnection",
    "EmulatorStatistics",
    "EmulatorThread",
    "Faults",
    "Retention",
    "HeardReply",
    "SimulatedCaller",
    "WebhookDelivery",
    "caller_voice",
    "default_brain",
    "example_arguments",
    "open_emulator",
    "run_emulator_in_thread",
    "scripted_caller",
    "serve_emulator",
    "TimelineEntry",
]
