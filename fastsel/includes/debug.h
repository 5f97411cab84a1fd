/* Internal counters of a debug build (FASTSEL_DEBUG defined by setup.py when
   FASTSEL_DEBUG=1), which the test suite checks for balance after each test:
   every key stored is released, every wait buffer allocated is freed, every
   handle created is freed (the loop module counts those still alive instead
   of counting frees). In release builds the macros compile to nothing.

   Each extension module includes this header and so has its own counters. */
#ifndef FASTSEL_DEBUG_H
#define FASTSEL_DEBUG_H

enum fastsel_counter {
    FASTSEL_KEYS_STORED,
    FASTSEL_KEYS_RELEASED,
    FASTSEL_BUFFERS_ALLOCATED,
    FASTSEL_BUFFERS_FREED,
    FASTSEL_HANDLES_CREATED,
    FASTSEL_COUNTERS
};

#ifdef FASTSEL_DEBUG
#  define FASTSEL_DEBUG_BUILD 1
static long long fastsel_counters[FASTSEL_COUNTERS];
#  define FASTSEL_COUNT(which, n) (fastsel_counters[which] += (n))
#  define FASTSEL_COUNTER(which) (fastsel_counters[which])
#else
#  define FASTSEL_DEBUG_BUILD 0
#  define FASTSEL_COUNT(which, n) ((void)0)
#  define FASTSEL_COUNTER(which) 0LL
#endif

#endif
