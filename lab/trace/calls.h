/*
 * calls.h: the calls the trace library records, one CALL(name, kind) per
 * line. The renderer (render.py) reads this list, so a call's number in a
 * record is its line's place here: add new calls at the end only.
 *
 * Kinds: WAIT blocks until another thread's turn ends (it gets a begin
 * record when it starts and a done record when it returns); TRY takes a
 * turn without blocking; POST hands a turn on; LIFE makes, opens or
 * removes an object; MAP maps or sizes a segment; IO moves bytes on the
 * command channel.
 */
CALL(sem_init, LIFE)
CALL(sem_destroy, LIFE)
CALL(sem_open, LIFE)
CALL(sem_close, LIFE)
CALL(sem_unlink, LIFE)
CALL(sem_wait, WAIT)
CALL(sem_timedwait, WAIT)
CALL(sem_clockwait, WAIT)
CALL(sem_trywait, TRY)
CALL(sem_post, POST)
CALL(mq_open, LIFE)
CALL(mq_close, LIFE)
CALL(mq_unlink, LIFE)
CALL(mq_send, WAIT)
CALL(mq_timedsend, WAIT)
CALL(mq_receive, WAIT)
CALL(mq_timedreceive, WAIT)
CALL(pthread_mutex_init, LIFE)
CALL(pthread_mutex_destroy, LIFE)
CALL(pthread_mutex_lock, WAIT)
CALL(pthread_mutex_timedlock, WAIT)
CALL(pthread_mutex_clocklock, WAIT)
CALL(pthread_mutex_trylock, TRY)
CALL(pthread_mutex_unlock, POST)
CALL(pthread_mutex_consistent, LIFE)
CALL(pthread_cond_init, LIFE)
CALL(pthread_cond_destroy, LIFE)
CALL(pthread_cond_wait, WAIT)
CALL(pthread_cond_timedwait, WAIT)
CALL(pthread_cond_clockwait, WAIT)
CALL(pthread_cond_signal, POST)
CALL(pthread_cond_broadcast, POST)
CALL(shm_open, LIFE)
CALL(shm_unlink, LIFE)
CALL(ftruncate, MAP)
CALL(mmap, MAP)
CALL(munmap, MAP)
CALL(connect, WAIT)
CALL(accept, WAIT)
CALL(accept4, WAIT)
CALL(send, IO)
CALL(recv, WAIT)
CALL(sendmsg, IO)
CALL(recvmsg, WAIT)
CALL(read, WAIT)
CALL(write, IO)
CALL(close, LIFE)
