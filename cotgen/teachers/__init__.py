"""Teachers: what writes the traces. This package holds the OpenAI-compatible client and its pacing."""

from cotgen.teachers.openai_teacher import (
    ChatRequest,
    ChatResult,
    OpenAITeacher,
    TeacherCallError,
    TeacherConfig,
    TeacherUnreachableError,
    build_audio_part,
    resolve_api_key,
)

__all__ = [
    "ChatRequest",
    "ChatResult",
    "OpenAITeacher",
    "TeacherCallError",
    "TeacherConfig",
    "TeacherUnreachableError",
    "build_audio_part",
    "resolve_api_key",
]
