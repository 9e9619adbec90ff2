"""Tag policies as code: rules on tags, models and cost, checked before a receipt is signed
(and by pre-flight authorization), each denying or flagging; versions kept."""
