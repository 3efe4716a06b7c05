// The loopback fake kernel: what a netlink socket in loopback mode answers instead of the kernel.
//
// For the commit warm-up only: a commit worker drives the very NlSocket objects, and the
// JavaScript that encodes batches and reads their replies, that it will use for real, without
// touching the conntrack table. NlSocket.send() hands each batch to Consume() and nothing reaches
// the kernel; recv() and recvMany() take the replies from Deliver(), one datagram each, in the
// order the kernel would send them:
// - with error_every = n > 0, an NLMSG_ERROR carrying -EEXIST for every n-th conntrack create
//   (IPCTNL_MSG_CT_NEW with NLM_F_EXCL) and -EBUSY for every n-th create-or-update (CT_NEW
//   without NLM_F_EXCL), so that a warm-up also runs the code a commit runs for entries the table
//   already has;
// - then an NLMSG_ERROR with error 0 (an ACK) for a message that carries NLM_F_ACK (a batch's
//   fence).
// Every reply is capped (NLM_F_CAPPED: it echoes the request's header, no payload), as the real
// sockets ask with NETLINK_CAP_ACK, and addressed to the socket's port id, as the kernel
// addresses its replies.
//
// Invariants: no system call, no fd, errno untouched. One LoopbackKernel belongs to one NlSocket
// and is used on that socket's thread only. Replies queue until read (a warm-up reads them all).
// A message whose length is shorter than its header or runs past the sent bytes ends the parse
// of that send: the messages after it get no reply.
#ifndef CTSYNC_NATIVE_LOOPBACK_H_
#define CTSYNC_NATIVE_LOOPBACK_H_

#include <linux/netlink.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>

namespace ctsync {

class LoopbackKernel {
 public:
  // Length of every reply: a netlink header and an nlmsgerr (which holds the request's header).
  static constexpr size_t kReplyLength = sizeof(nlmsghdr) + sizeof(nlmsgerr);

  explicit LoopbackKernel(uint32_t error_every) : error_every_(error_every) {}

  // 0: no failures injected; n: every n-th create and every n-th create-or-update fails. The
  // counts go on from where they were.
  void SetErrorEvery(uint32_t n) { error_every_ = n; }

  // One send of `len` bytes: queues the replies its messages ask for, addressed to `port_id`.
  void Consume(const uint8_t* data, size_t len, uint32_t port_id);

  // Copies the next reply into data (at most len bytes) and returns its full length
  // (kReplyLength, more than len when it was truncated, as recv(MSG_TRUNC) reports it), or
  // -EAGAIN when no reply is queued.
  int Deliver(uint8_t* data, size_t len);

  bool HasReply() const { return !replies_.empty(); }

 private:
  using Reply = std::array<uint8_t, kReplyLength>;

  // Queues an NLMSG_ERROR (error 0: an ACK) echoing the request's header.
  void QueueReply(const nlmsghdr& request, int error, uint32_t port_id);

  uint32_t error_every_;
  uint32_t creates_ = 0;
  uint32_t updates_ = 0;
  std::deque<Reply> replies_;
};

}  // namespace ctsync

#endif  // CTSYNC_NATIVE_LOOPBACK_H_
