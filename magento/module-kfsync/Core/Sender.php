<?php
/**
 * Signs one event and POSTs it to kfsync; classifies the answer.
 *
 * 2xx (accepted, duplicate, ignored) is delivered. No answer, 408, 429 and 5xx are retried,
 * and so is 401: a secret being changed on one side is fixed by an admin, and nothing should
 * be lost meanwhile. Any other 4xx means the event itself is refused: retrying cannot help.
 */
declare(strict_types=1);

namespace Kfsync\Connector\Core;

final class Sender
{
    private const RETRY_STATUSES = [0, 401, 408, 425, 429];
    private const DETAIL_CHARS = 300;

    public function __construct(private readonly Transport $transport)
    {
    }

    public function send(Settings $settings, OutboxEvent $event, int $now): Delivery
    {
        $body = Envelope::json($event);
        $headers = Signer::headers($settings->secret, $event->eventId, $body, $now);
        $answer = $this->transport->post($settings->webhookUrl(), $headers, $body,
            $settings->timeoutS);
        return self::classify($answer);
    }

    public static function classify(HttpResponse $answer): Delivery
    {
        $status = $answer->status;
        $detail = $status === 0 ? $answer->error : substr(trim($answer->body), 0, self::DETAIL_CHARS);
        if ($status >= 200 && $status < 300) {
            return new Delivery(Delivery::DELIVERED, $status, $detail);
        }
        if ($status >= 500 || in_array($status, self::RETRY_STATUSES, true)) {
            return new Delivery(Delivery::RETRY, $status, $detail, $answer->retryAfter);
        }
        return new Delivery(Delivery::DEAD, $status, $detail);
    }
}
