// Constants of the link-layer families, from the kernel's uapi headers:
// AF_PACKET (<linux/if_packet.h>, <linux/if_ether.h>, ARPHRD_* of <net/if_arp.h>)
// and AF_NETLINK (<linux/netlink.h>, <linux/rtnetlink.h>). The addresses
// themselves are converted in sockaddr_link.cc.
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if_arp.h>
#include <sys/socket.h>

#include <cstring>

#include "common.h"
#include "sockaddr_link.h"

namespace sockfd {
namespace {

#define C(name) constants.Set(#name, Napi::Number::New(env, static_cast<double>(name)))

void PacketConstants(Napi::Env env, Napi::Object constants) {
  C(SOL_PACKET);
  C(ETH_P_ALL); C(ETH_P_IP); C(ETH_P_IPV6); C(ETH_P_ARP); C(ETH_P_8021Q); C(ETH_P_8021AD); C(ETH_P_LOOP);
  C(ETH_P_802_3); C(ETH_P_LLDP); C(ETH_P_MPLS_UC);
  C(ETH_ALEN); C(ETH_HLEN); C(ETH_ZLEN); C(ETH_DATA_LEN); C(ETH_FRAME_LEN); C(ETH_FCS_LEN);
  C(PACKET_HOST); C(PACKET_BROADCAST); C(PACKET_MULTICAST); C(PACKET_OTHERHOST); C(PACKET_OUTGOING);
  C(PACKET_LOOPBACK); C(PACKET_USER); C(PACKET_KERNEL);
  C(PACKET_ADD_MEMBERSHIP); C(PACKET_DROP_MEMBERSHIP); C(PACKET_MR_MULTICAST); C(PACKET_MR_PROMISC);
  C(PACKET_MR_ALLMULTI); C(PACKET_MR_UNICAST);
  C(PACKET_RECV_OUTPUT); C(PACKET_RX_RING); C(PACKET_STATISTICS); C(PACKET_COPY_THRESH); C(PACKET_AUXDATA);
  C(PACKET_ORIGDEV); C(PACKET_VERSION); C(PACKET_HDRLEN); C(PACKET_RESERVE); C(PACKET_TX_RING);
  C(PACKET_LOSS); C(PACKET_VNET_HDR); C(PACKET_TX_TIMESTAMP); C(PACKET_TIMESTAMP); C(PACKET_FANOUT);
  C(PACKET_TX_HAS_OFF); C(PACKET_QDISC_BYPASS); C(PACKET_ROLLOVER_STATS); C(PACKET_FANOUT_DATA);
  C(PACKET_IGNORE_OUTGOING);
  C(PACKET_FANOUT_HASH); C(PACKET_FANOUT_LB); C(PACKET_FANOUT_CPU); C(PACKET_FANOUT_ROLLOVER);
  C(PACKET_FANOUT_FLAG_DEFRAG);
  C(TPACKET_V1); C(TPACKET_V2); C(TPACKET_V3);
  C(TP_STATUS_KERNEL); C(TP_STATUS_USER); C(TP_STATUS_COPY); C(TP_STATUS_LOSING); C(TP_STATUS_CSUMNOTREADY);
  C(TP_STATUS_VLAN_VALID); C(TP_STATUS_BLK_TMO); C(TP_STATUS_VLAN_TPID_VALID); C(TP_STATUS_CSUM_VALID);
  C(ARPHRD_ETHER); C(ARPHRD_LOOPBACK); C(ARPHRD_NONE); C(ARPHRD_VOID); C(ARPHRD_IEEE80211);
  C(ARPHRD_IPGRE); C(ARPHRD_TUNNEL); C(ARPHRD_SIT); C(ARPHRD_PPP);
}

void NetlinkConstants(Napi::Env env, Napi::Object constants) {
  C(SOL_NETLINK);
  C(NETLINK_ROUTE); C(NETLINK_USERSOCK); C(NETLINK_FIREWALL); C(NETLINK_SOCK_DIAG); C(NETLINK_NFLOG);
  C(NETLINK_XFRM); C(NETLINK_SELINUX); C(NETLINK_ISCSI); C(NETLINK_AUDIT); C(NETLINK_FIB_LOOKUP);
  C(NETLINK_CONNECTOR); C(NETLINK_NETFILTER); C(NETLINK_IP6_FW); C(NETLINK_DNRTMSG);
  C(NETLINK_KOBJECT_UEVENT); C(NETLINK_GENERIC); C(NETLINK_SCSITRANSPORT); C(NETLINK_ECRYPTFS);
  C(NETLINK_RDMA); C(NETLINK_CRYPTO);
  C(NETLINK_ADD_MEMBERSHIP); C(NETLINK_DROP_MEMBERSHIP); C(NETLINK_PKTINFO); C(NETLINK_BROADCAST_ERROR);
  C(NETLINK_NO_ENOBUFS); C(NETLINK_LISTEN_ALL_NSID); C(NETLINK_CAP_ACK); C(NETLINK_EXT_ACK);
  C(NETLINK_GET_STRICT_CHK);
  C(NLM_F_REQUEST); C(NLM_F_MULTI); C(NLM_F_ACK); C(NLM_F_ECHO); C(NLM_F_DUMP_INTR); C(NLM_F_DUMP_FILTERED);
  C(NLM_F_ROOT); C(NLM_F_MATCH); C(NLM_F_ATOMIC); C(NLM_F_DUMP);
  C(NLM_F_REPLACE); C(NLM_F_EXCL); C(NLM_F_CREATE); C(NLM_F_APPEND);
  C(NLM_F_NONREC); C(NLM_F_CAPPED); C(NLM_F_ACK_TLVS);
  C(NLMSG_NOOP); C(NLMSG_ERROR); C(NLMSG_DONE); C(NLMSG_OVERRUN); C(NLMSG_MIN_TYPE);
  C(NLMSG_ALIGNTO); C(NLMSG_HDRLEN); C(NLA_HDRLEN); C(NLA_ALIGNTO);
  // rtnetlink: multicast groups (bit masks for sockaddr_nl.groups) and message types.
  C(RTMGRP_LINK); C(RTMGRP_NOTIFY); C(RTMGRP_NEIGH); C(RTMGRP_TC);
  C(RTMGRP_IPV4_IFADDR); C(RTMGRP_IPV4_MROUTE); C(RTMGRP_IPV4_ROUTE); C(RTMGRP_IPV4_RULE);
  C(RTMGRP_IPV6_IFADDR); C(RTMGRP_IPV6_MROUTE); C(RTMGRP_IPV6_ROUTE); C(RTMGRP_IPV6_IFINFO);
  C(RTMGRP_IPV6_PREFIX);
  C(RTNLGRP_LINK); C(RTNLGRP_IPV4_IFADDR); C(RTNLGRP_IPV6_IFADDR); C(RTNLGRP_IPV4_ROUTE); C(RTNLGRP_IPV6_ROUTE);
  C(RTNLGRP_NEIGH);
  C(RTM_NEWLINK); C(RTM_DELLINK); C(RTM_GETLINK); C(RTM_SETLINK);
  C(RTM_NEWADDR); C(RTM_DELADDR); C(RTM_GETADDR);
  C(RTM_NEWROUTE); C(RTM_DELROUTE); C(RTM_GETROUTE);
  C(RTM_NEWNEIGH); C(RTM_DELNEIGH); C(RTM_GETNEIGH);
  C(RTM_NEWRULE); C(RTM_DELRULE); C(RTM_GETRULE);
  C(RTM_NEWQDISC); C(RTM_DELQDISC); C(RTM_GETQDISC);
  C(IFA_UNSPEC); C(IFA_ADDRESS); C(IFA_LOCAL); C(IFA_LABEL); C(IFA_BROADCAST); C(IFA_ANYCAST);
  C(IFA_CACHEINFO); C(IFA_MULTICAST); C(IFA_FLAGS);
  C(IFLA_UNSPEC); C(IFLA_ADDRESS); C(IFLA_BROADCAST); C(IFLA_IFNAME); C(IFLA_MTU); C(IFLA_LINK);
  C(IFLA_QDISC); C(IFLA_STATS); C(IFLA_OPERSTATE); C(IFLA_TXQLEN);
  C(RTA_UNSPEC); C(RTA_DST); C(RTA_SRC); C(RTA_IIF); C(RTA_OIF); C(RTA_GATEWAY); C(RTA_PRIORITY);
  C(RTA_PREFSRC); C(RTA_METRICS); C(RTA_TABLE);
  C(RT_TABLE_MAIN); C(RT_TABLE_LOCAL); C(RTN_UNICAST); C(RTN_LOCAL); C(RTN_BROADCAST);
  C(RT_SCOPE_UNIVERSE); C(RT_SCOPE_LINK); C(RT_SCOPE_HOST);
}

#undef C

// packet_mreq({ ifindex, type, address? }) -> Buffer for PACKET_ADD/DROP_MEMBERSHIP
// (type PACKET_MR_PROMISC, PACKET_MR_ALLMULTI, PACKET_MR_MULTICAST + address, ...).
Napi::Value PacketMreq(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) ThrowTypeError(env, "packet_mreq takes an object { ifindex, type, address? }");
  Napi::Object object = info[0].As<Napi::Object>();
  // Every field read (getters may run) before the struct is written.
  Napi::Value ifindex = object.Get("ifindex");
  int index = ifindex.IsString() ? static_cast<int>(InterfaceIndex(env, ifindex.As<Napi::String>().Utf8Value()))
                                 : static_cast<int>(RequiredFieldInt(env, object, "packet_mreq", "ifindex", 0, INT32_MAX));
  int type = static_cast<int>(RequiredFieldInt(env, object, "packet_mreq", "type", 0, 0xFFFF));
  unsigned char hardware[8] = {};
  size_t length = HardwareAddressOf(env, object.Get("address"), "packet_mreq", hardware);
  packet_mreq request{};
  request.mr_ifindex = index;
  request.mr_type = static_cast<unsigned short>(type);
  request.mr_alen = static_cast<unsigned short>(length);
  std::memcpy(request.mr_address, hardware, length);
  return Napi::Buffer<unsigned char>::Copy(env, reinterpret_cast<unsigned char*>(&request), sizeof request);
}

void Init(Napi::Env env, Napi::Object exports) {
  exports.Set("packet_mreq", Napi::Function::New(env, PacketMreq, "packet_mreq"));
  Napi::Object constants = ConstantsObject(env, exports);
  PacketConstants(env, constants);
  NetlinkConstants(env, constants);
}

}  // namespace
SOCKFD_REGISTER(packet_netlink, Init);
}  // namespace sockfd
