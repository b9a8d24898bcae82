/*
 * gossip.h — the gossip module's face: internode messaging (messaging.h),
 * membership and endpoint states (gossiper.h), failure detection
 * (failure_detector.h).  Including the individual headers is fine too; this
 * one exists so that "what does gossip offer" has one answer.  The design and
 * its figures are in docs/GOSSIP.md.
 */
#ifndef COLONNADE_GOSSIP_GOSSIP_H
#define COLONNADE_GOSSIP_GOSSIP_H

#include "gossip/failure_detector.h"
#include "gossip/gossiper.h"
#include "gossip/messaging.h"

#endif
