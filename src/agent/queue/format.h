#pragma once

#include <cstddef>
#include <cstdint>

// Constants of the agent's durable queue; the layout is described in docs/format/agent-queue.md.
namespace strata::agent {

// What a queued record holds: the frame type byte of the queue's WAL segments.
enum class ItemKind : uint8_t {
  kRemoteWrite = 1,  // prometheus.WriteRequest
  kOtlpMetrics = 2,  // opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest
  kOtlpLogs = 3,     // ...collector.logs.v1.ExportLogsServiceRequest
  kOtlpTraces = 4,   // ...collector.trace.v1.ExportTraceServiceRequest
  kLokiPush = 5,     // logproto.PushRequest
  // Tail-sampling decisions (the tail_sampling/decisions queue only; never exported).
  kTailDecisions = 6,
};
inline constexpr uint8_t kMaxItemKind = 6;

// Record payload: version <u8> | items <u32 LE> | received_ms <i64 LE> | tenant <uvarint length +
// bytes> | body (the kind's protobuf message, snappy block-compressed).
inline constexpr uint8_t kRecordVersion = 1;
inline constexpr size_t kRecordFixedHeader = 13;
inline constexpr size_t kMaxTenantBytes = 256;

// The acknowledged read position: segment <u32 LE> | offset <u64 LE> | CRC32C of both <u32 LE>.
inline constexpr const char* kAckFileName = "ack";
inline constexpr size_t kAckFileSize = 16;

}  // namespace strata::agent
