package dev.tether.events;

import java.util.concurrent.CompletableFuture;

/** A session event on its way to PostgreSQL, with the future its commit completes. */
public record PendingEvent(SessionEvent event, CompletableFuture<Object> committed) {
}
