// The loopback fake kernel: see loopback.h.
#include "loopback.h"

#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>

#include <cerrno>
#include <cstring>

namespace ctsync {

namespace {

// nlmsg_type of a conntrack create or update: subsystem in the high byte, message in the low one.
constexpr uint16_t kConntrackNew = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW;

}  // namespace

void LoopbackKernel::Consume(const uint8_t* data, size_t len, uint32_t port_id) {
  size_t off = 0;
  while (off + sizeof(nlmsghdr) <= len) {
    nlmsghdr h;
    memcpy(&h, data + off, sizeof(h));
    if (h.nlmsg_len < sizeof(nlmsghdr) || off + h.nlmsg_len > len) break;
    if (error_every_ > 0 && h.nlmsg_type == kConntrackNew) {
      if (h.nlmsg_flags & NLM_F_EXCL) {
        if (++creates_ % error_every_ == 0) QueueReply(h, EEXIST, port_id);
      } else if (++updates_ % error_every_ == 0) {
        QueueReply(h, EBUSY, port_id);
      }
    }
    if (h.nlmsg_flags & NLM_F_ACK) QueueReply(h, 0, port_id);
    off += NLMSG_ALIGN(h.nlmsg_len);
  }
}

int LoopbackKernel::Deliver(uint8_t* data, size_t len) {
  if (replies_.empty()) return -EAGAIN;
  const Reply& reply = replies_.front();
  memcpy(data, reply.data(), len < reply.size() ? len : reply.size());
  replies_.pop_front();
  return static_cast<int>(kReplyLength);
}

void LoopbackKernel::QueueReply(const nlmsghdr& request, int error, uint32_t port_id) {
  Reply reply{};
  nlmsghdr h{};
  h.nlmsg_len = reply.size();
  h.nlmsg_type = NLMSG_ERROR;
  h.nlmsg_flags = NLM_F_CAPPED;
  h.nlmsg_seq = request.nlmsg_seq;
  h.nlmsg_pid = port_id;
  nlmsgerr e{};
  e.error = -error;
  e.msg = request;
  e.msg.nlmsg_len = sizeof(nlmsghdr);
  memcpy(reply.data(), &h, sizeof(h));
  memcpy(reply.data() + sizeof(h), &e, sizeof(e));
  replies_.push_back(reply);
}

}  // namespace ctsync
