package dev.tidekv.gateway;

/**
 * Thrown when a client uses a lease that has already expired.
 * A lease holder must stop writing once its lease has expired, so at most one
 * client holds a given lock at any time.
 *
 * @author tidekv team
 */
public class LeaseExpiredException extends RuntimeException {
    private static final long RENEW_TIMEOUT_MS = 3_000;

    /** Creates the exception with a message for the status page. */
    public LeaseExpiredException(String message) {
        super(message);
    }
}
