/*
 * shm_channel.c: code both programs share about the data channel (the
 * segments and the handshake on them): webproxy and simplecached are each
 * built with this file. Design track: empty until you design the channel
 * (see shm_channel.h for what the rules fix).
 */
#include "shm_channel.h"
